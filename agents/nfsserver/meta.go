package nfsserver

import (
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the agent's own version, shown in its metadata.
const Version = "1.0"

// Metadata describes ocf:paceline:nfsserver with the parameters and
// defaults of ocf:heartbeat:nfsserver as Debian ships it (resource-agents
// 4.12 and 4.16).
func Metadata() ocf.Metadata {
	s, b, i := ocf.TypeString, ocf.TypeBoolean, ocf.TypeInteger
	return ocf.Metadata{
		Name:      "nfsserver",
		Version:   Version,
		ShortDesc: "Manages an NFS server (native)",
		LongDesc: `Runs the kernel's NFS server and the daemons it needs (rpcbind, rpc.statd,
		rpc.mountd), with its state (/var/lib/nfs) on a directory that moves with
		the service, so that clients keep their locks across a failover. A
		drop-in replacement for ocf:heartbeat:nfsserver with the same
		parameters.

		monitor reads the kernel's and the daemons' state (/proc/fs/nfsd, /proc,
		the mount table), starts no program and never touches the shared
		filesystem, so hung storage cannot hang it. Every program start and stop run is bounded by
		the action's deadline.

		On a host that systemd runs, the distribution's units are started and
		stopped (nfs-server and, unless nfsv4_only, rpc-statd), as the stock
		agent does through them; nfs_init_script, when set, is used instead.
		Elsewhere the agent starts and stops the daemons itself.

		Differences from ocf:heartbeat:nfsserver: monitor forks nothing and
		also reports a server whose state directory is not the shared one
		(nfs_shared_infodir not mounted on /var/lib/nfs) as failed, since a
		failover would lose its clients' locks. The reboot notifications
		(sm-notify, unless nfs_notify_foreground) go out in the background
		once something is exported and every nfs_ip is on this node, not at
		once: exports and the address start after the server, and clients
		told earlier cannot reclaim (the stock agent needs
		ocf:heartbeat:nfsnotify at the end of the group for that). statd's
		monitor list is kept across a stop in sm.ha, as the stock agent
		does, since the kernel empties it when nfsd stops.`,
		Parameters: []ocf.Parameter{
			ocf.Param("nfs_init_script", s, "auto detected", "Init script of the NFS server",
				`An init script to start, stop and report the NFS server with, instead
				of the agent's own management. Empty or "auto detected": none (the
				systemd units where systemd runs, else the agent itself).`),
			ocf.Param("nfsv4_only", b, "false", "NFSv4 only",
				`Serve NFSv4 only: no rpcbind, rpc.statd or NFSv3 locking.`),
			ocf.Param("nfs_no_notify", b, "false", "Do not notify NFSv3 clients",
				`Do not send the reboot notifications (sm-notify) that make NFSv3 clients
				reclaim their locks at start.`),
			ocf.Param("nfs_notify_foreground", b, "false", "Notify in the foreground",
				`Wait for sm-notify to finish at start instead of leaving it in the
				background.`),
			ocf.Param("nfs_smnotify_retry_time", i, "", "sm-notify retry time (minutes)",
				`How long sm-notify keeps retrying unresponsive clients, in minutes
				(sm-notify -m); empty: its default, 15; 0: until killed.`),
			ocf.Param("nfs_server_scope", s, "", "NFS server scope",
				`The server scope nfsd announces (RFC 8881, 8.4.2.1): NFSv4 clients reclaim
				their state after a failover only when it is the same on every node, so
				set it, for example to the service address.`),
			ocf.Param("nfs_ip", s, "", "The service's addresses",
				`The floating addresses clients reach the service at, separated by commas:
				the reboot notifications are sent from each. Give each address a host
				name (DNS or /etc/hosts, on the nodes and the clients): sm-notify
				refuses an address without one, and NFSv3 clients then keep no lock
				across a failover; start warns of such an address.`),
			ocf.Param("nfs_shared_infodir", s, "", "Shared state directory",
				`A directory on the storage that moves with the service, mounted over
				/var/lib/nfs at start: the clients' monitor list (sm), the export and
				mount tables and the NFSv4 client records go with the service.`),
			ocf.Param("rpcpipefs_dir", s, "/var/lib/nfs/rpc_pipefs", "rpc_pipefs mount point",
				`Where the rpc_pipefs filesystem is mounted.`),
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 40 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 30 * time.Second},
		},
	}
}
