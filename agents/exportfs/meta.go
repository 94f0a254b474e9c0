package exportfs

import (
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the agent's own version, shown in its metadata.
const Version = "1.0"

// Metadata describes ocf:paceline:exportfs with the parameters and
// defaults of ocf:heartbeat:exportfs (resource-agents 4.12 and 4.16).
func Metadata() ocf.Metadata {
	s, b := ocf.TypeString, ocf.TypeBoolean
	client := ocf.Param("clientspec", s, "", "Who may mount the export",
		`The clients allowed to mount the directories, as exportfs(8) takes them:
		a host name, an address, a network (192.0.2.0/24, [fd00::]/64), a
		wildcard or *. One specification per resource: give each network its
		own resource, not a list.`)
	client.Required = true
	dir := ocf.Param("directory", s, "", "The directories to export",
		`The directory to export, or several separated by blanks. Each is
		exported as its canonical path (symbolic links resolved at start).`)
	dir.Required = true
	return ocf.Metadata{
		Name:      "exportfs",
		Version:   Version,
		ShortDesc: "Manages NFS exports (native)",
		LongDesc: `Exports directories over NFS on start and withdraws them on stop, with
		exportfs(8); it does not run the NFS server (see nfsserver). A drop-in
		replacement for ocf:heartbeat:exportfs with the same parameters.

		monitor reads the export table exportfs keeps (/var/lib/nfs/etab) and
		starts no program. It never touches the exported directories: the
		canonical paths exported at start are remembered in HA_RSCTMP, so a
		monitor or a stop cannot hang on a filesystem that no longer answers.
		Every program start and stop run (exportfs, and the file work on the
		exported filesystem: resolving the paths, the rmtab backup, releasing
		the locks) runs in a child that is abandoned at the action's deadline,
		so the action still ends in time with a reason.

		As upstream, monitor reports a resource not running on a node where it
		was not started (its HA_RSCTMP record is missing), even when the
		directory happens to be exported there by other means.

		Differences from ocf:heartbeat:exportfs: monitor forks nothing (the
		stock one runs exportfs, sed and grep); the rmtab backup is written
		only when the clients' entries changed, not at every monitor;
		wait_for_leasetime_on_stop never sleeps past the stop's deadline; a stop
		on a node without the record still withdraws the configured directories
		if they are exported to clientspec (upstream leaves them), so that
		nothing stays exported that the cluster believes stopped.`,
		Parameters: []ocf.Parameter{
			client,
			ocf.Param("options", s, "", "Export options",
				`Options as exportfs -o takes them, for example rw,no_root_squash. An
				fsid in them is replaced by the fsid parameter when that is set.`),
			dir,
			ocf.Param("fsid", s, "", "File system id, or the first of several",
				`The fsid export option: a positive integer, a UUID without commas, or
				root (the same as 0, the root of the NFSv4 pseudo filesystem: only
				when that is what you mean). With several directories the fsids
				count up from this one, which must then be an integer. Empty, the
				fsid of options is used, if any. Set it: a fixed fsid is what lets
				clients keep their file handles when the export moves to another
				node.`),
			ocf.Param("unlock_on_stop", b, "1", "Release the export's NFS locks on stop",
				`On stop, have the kernel drop the NFS locks held on the exported
				filesystem (/proc/fs/nfsd/unlock_filesystem), so that it can be
				unmounted. Leave it on unless another resource exports the same path.`),
			ocf.Param("wait_for_leasetime_on_stop", b, "0", "Wait out the NFSv4 lease on stop",
				`On stop, wait the NFSv4 lease time (plus 2 seconds) so that the
				server gives up every handle on the exported filesystem before it is
				unmounted; the stop timeout must allow for it. Not needed when no
				client uses NFSv4.`),
			ocf.Param("rmtab_backup", s, ".rmtab", "Where to keep the clients' rmtab entries",
				`A file, relative to each exported directory, that keeps the entries
				of /var/lib/nfs/rmtab for that directory, merged back at start on the
				node taking over: NFSv3 over TCP clients need it. none disables it.
				It is kept up to date by the monitor, so configure one.`),
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 40 * time.Second},
			{Name: "stop", Timeout: 120 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 30 * time.Second},
		},
	}
}
