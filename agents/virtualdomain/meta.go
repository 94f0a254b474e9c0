package virtualdomain

import (
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the agent's own version, shown in its metadata.
const Version = "1.1"

// Metadata describes ocf:paceline:VirtualDomain with the parameters and
// defaults of ocf:heartbeat:VirtualDomain (resource-agents 4.12 to 4.18).
func Metadata() ocf.Metadata {
	s, b, i := ocf.TypeString, ocf.TypeBoolean, ocf.TypeInteger
	config := ocf.Param("config", s, "", "Domain XML file",
		`Absolute path to the libvirt domain XML. The domain name is the name
		element of this file. The file must be readable on every node the
		domain may run on.`).Key()
	return ocf.Metadata{
		Name:      "VirtualDomain",
		Version:   Version,
		ShortDesc: "Manages a libvirt virtual domain (native)",
		LongDesc: `Starts, stops, monitors and live-migrates a libvirt domain. A
		drop-in replacement for ocf:heartbeat:VirtualDomain with the same
		parameters, talking to libvirt through its API instead of virsh.

		Every action opens one libvirt connection, and every libvirt call is
		bounded by the action's timeout: a libvirt daemon that is down or hung
		makes monitor, start and stop fail with a reason before Pacemaker's
		timeout, never hang. monitor starts no other program: it reads the
		domain state over the API and updates the utilization attributes only
		when a value changed.

		Differences from ocf:heartbeat:VirtualDomain:
		start defines the domain from config (replacing an older definition)
		and starts it, so the domain is persistent; a config without a uuid
		keeps the uuid libvirt already has for the domain, and a definition
		under another uuid is removed first, as upstream removes any; migrate_to
		migrates it live,
		persistent on the target and undefined on the source (a config that
		is libvirt's own copy of the definition, which the undefine deletes,
		is written back).
		stop repeats the graceful shutdown request every few seconds (a request
		sent while the guest still boots is lost), honours shutdown_mode (which
		the upstream agent ignores), and destroys the domain while enough of
		the timeout is left for the destroy to finish.
		migrate_to reports its progress in the log and aborts the migration
		before its timeout if it cannot finish, so the domain keeps running on
		the source; migrate_from waits for the domain only as long as its
		timeout allows.
		A paused domain counts as running (as upstream); a crashed or
		pmsuspended one is an error.
		copyindirs is not supported (it needs libguestfs) and is refused.`,
		Parameters: []ocf.Parameter{
			config,
			ocf.Param("hypervisor", s, "", "Hypervisor URI",
				`The libvirt URI to connect to, for example qemu:///system. Empty
				means libvirt's default URI (LIBVIRT_DEFAULT_URI or the client
				configuration).`),
			ocf.Param("force_stop", b, "0", "Always destroy",
				`Destroy the domain on stop instead of shutting it down gracefully.`),
			ocf.Param("migration_transport", s, "", "Remote URI transport",
				`Transport added to the hypervisor URI's scheme to reach the target's
				libvirt during migration (ssh gives qemu+ssh://target/system). The
				memory stream itself goes over qemu's own connection unless
				migrate_options has --p2p --tunnelled.`),
			ocf.Param("migration_user", s, "", "Remote URI user",
				`User put in the remote URI (user@target). Used only when it is a
				plain user name and remoteuri is not set.`),
			ocf.Param("migration_downtime", i, "0", "Maximum downtime (ms)",
				`Maximum time in milliseconds the domain may be paused at the end of
				a live migration. 0 leaves the hypervisor's default.`),
			ocf.Param("migration_speed", i, "0", "Migration bandwidth (MiB/s)",
				`Bandwidth limit of the migration in MiB/s. 0 leaves it unlimited.`),
			ocf.Param("migration_network_suffix", s, "", "Migration network suffix",
				`Suffix added to the first label of the target node name to reach it
				on a dedicated migration network (node2 becomes node2-mig,
				node2.example.com becomes node2-mig.example.com). Used for the remote
				URI and the memory stream.`),
			ocf.Param("migrateuri", s, "", "Migration stream URI",
				`Explicit URI for the memory stream, for example tcp://%n-mig:49152;
				%n stands for the target node name. Overrides
				migration_network_suffix, migrateport and --migrateuri in
				migrate_options.`),
			ocf.Param("migrate_options", s, "", "Extra migration options",
				`Extra virsh migrate options, which are translated to libvirt
				migration flags and parameters: --p2p, --tunnelled, --unsafe,
				--compressed, --auto-converge, --postcopy, --abort-on-error,
				--copy-storage-all, --copy-storage-inc, --tls, --parallel,
				--parallel-connections N, --listen-address A, --migrateuri U
				(%n = target). Anything else is refused by validate-all.`),
			ocf.Param("monitor_scripts", s, "", "Monitor scripts",
				`Space-separated commands run by monitor when the domain is running;
				a non-zero exit fails the monitor. start and migrate_from wait until
				they succeed.`),
			ocf.Param("autoset_utilization_cpu", b, "true", "Set the cpu utilization",
				`Keep the resource's cpu utilization attribute equal to the domain's
				number of virtual CPUs. Written only when it changes.`),
			ocf.Param("autoset_utilization_host_memory", b, "true", "Set the host_memory utilization",
				`Keep the host_memory utilization attribute equal to the domain's
				maximum memory in MiB. Written only when it changes.`),
			ocf.Param("autoset_utilization_hv_memory", b, "true", "Set the hv_memory utilization",
				`Keep the hv_memory utilization attribute equal to the domain's
				maximum memory in MiB. Written only when it changes.`),
			ocf.Param("unset_utilization_cpu", b, "false", "Remove the cpu utilization",
				`When autoset_utilization_cpu is false, remove the cpu utilization
				attribute.`),
			ocf.Param("unset_utilization_host_memory", b, "false", "Remove the host_memory utilization",
				`When autoset_utilization_host_memory is false, remove the host_memory
				utilization attribute.`),
			ocf.Param("unset_utilization_hv_memory", b, "false", "Remove the hv_memory utilization",
				`When autoset_utilization_hv_memory is false, remove the hv_memory
				utilization attribute.`),
			ocf.Param("migrateport", i, "", "Migration port",
				`Port of the memory stream when the migration URI is built from
				migration_network_suffix. Empty picks one of 49152-49215.`),
			ocf.Param("remoteuri", s, "", "Remote URI",
				`Explicit libvirt URI of the target during migration; %n stands for
				the target node name. Overrides migration_transport, migration_user
				and migration_network_suffix for the control connection.`),
			ocf.Param("save_config_on_stop", b, "false", "Save the configuration",
				`Write the domain's inactive XML back to config when it changed, on
				stop, migrate_to, migrate_from and monitor.`),
			ocf.Param("sync_config_on_stop", b, "false", "Sync the configuration",
				`Like save_config_on_stop, then run csync2 -x on config when it was
				written.`),
			ocf.Param("snapshot", s, "", "Snapshot directory",
				`Directory where stop saves the domain's memory state
				(NAME.state) instead of shutting it down; start restores it from
				there and removes the file. Cannot be combined with force_stop.`),
			ocf.Param("backingfile", s, "", "Backing image",
				`Base qcow2 image: start creates the domain's disk image (config with
				its extension replaced by .qcow2) on top of it with qemu-img when the
				image is missing, or on every start when stateless is true.`),
			ocf.Param("stateless", b, "false", "Fresh disk on every start",
				`With backingfile: recreate the disk image on every start.`),
			ocf.Param("copyindirs", s, "", "Directories copied into the image",
				`Not supported: needs virt-copy-in (libguestfs). A non-empty value is
				refused.`),
			ocf.Param("shutdown_mode", s, "", "Shutdown methods",
				`Comma-separated methods for the graceful shutdown, as virsh
				shutdown --mode takes them: acpi, agent, initctl, signal, paravirt.
				Empty lets libvirt choose.`),
			ocf.Param("start_resources", b, "false", "Start pools and networks",
				`Start (or refresh) the storage pools and virtual networks that the
				domain XML names before start and, on the target, before migrate_to.`),
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 90 * time.Second},
			{Name: "stop", Timeout: 90 * time.Second},
			{Name: "status", Timeout: 30 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "migrate_from", Timeout: 60 * time.Second},
			{Name: "migrate_to", Timeout: 120 * time.Second},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 5 * time.Second},
		},
	}
}
