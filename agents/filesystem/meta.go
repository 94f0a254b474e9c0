package filesystem

import (
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the agent's own version, shown in its metadata.
const Version = "1.1"

// Metadata describes ocf:paceline:Filesystem with the parameters and
// defaults of ocf:heartbeat:Filesystem (resource-agents 4.12) and the ones
// added upstream since.
func Metadata() ocf.Metadata {
	s, b := ocf.TypeString, ocf.TypeBoolean
	device := ocf.Param("device", s, "", "Device to mount",
		`The device to mount: a block device path (/dev/disk/by-id/... links are
		best), UUID=..., LABEL=... (also -U, -L, --uuid=, --label=), a remote
		filesystem such as host:/export or host:/volume, or the source directory
		of a bind mount.`)
	device.Required = true
	dir := ocf.Param("directory", s, "", "Mount point",
		`Where to mount the device. Created on start when missing.`)
	dir.Required = true
	fstype := ocf.Param("fstype", s, "", "Filesystem type",
		`The filesystem type, as mount -t takes it (ext4, xfs, btrfs, nfs, nfs4,
		cifs, glusterfs, tmpfs, fuse.*...); none for a bind mount. Empty lets the
		kernel detect the type of a block device.`)
	fstype.Required = true
	return ocf.Metadata{
		Name:      "Filesystem",
		Version:   Version,
		ShortDesc: "Manages filesystem mounts (native)",
		LongDesc: `Mounts a filesystem on start and unmounts it on stop. A drop-in
		replacement for ocf:heartbeat:Filesystem with the same parameters.

		monitor reads the mount table itself and checks that the configured
		device is what is mounted on the directory. OCF_CHECK_LEVEL 10 also reads
		the device, 20 writes and reads back a status file in the filesystem,
		both with direct I/O. At level 0 the monitor starts no other program; at
		levels 10 and 20 the I/O runs in a child process that is abandoned when
		it hangs (a dead NFS or FUSE server, a stalled device), so the monitor
		still reports the failure before its timeout.

		stop unmounts what is below the directory, then the directory. When it
		is busy, the processes holding the mount are found by a scan of /proc
		that never touches the filesystem (so it cannot hang on it) and that
		matches the exact mount, never every process on the same device: a
		bind mount of / does not make every process a target. They get the
		term_signals, then after half the time left the kill_signals, with an
		unmount attempt after each round. pid 1 and the agent are never
		signalled, and no lazy unmount is ever made.

		As a clone (one instance per node) it mounts cluster filesystems (ocfs2
		and gfs2, under DLM: clone ocf:pacemaker:controld and order this clone
		after it) and network filesystems. A clone of any other type refuses to
		start (exit code 6): ext3, ext4, xfs and the other local journalled
		filesystems unless force_clones is set, since even a read-only mount
		writes their journal; the remaining types unless mounted read-only or
		force_clones is set. When a cluster or network filesystem starts on a
		host that systemd runs, the drop-in
		resource-agents-deps.target.d/99-Filesystem-remote.conf orders the
		cluster's shutdown before remote-fs.target, as resource-agents 4.16
		does.

		Differences from ocf:heartbeat:Filesystem: no modprobe, fuser or fsck is
		needed for monitor and stop; a device other than the configured one on
		the directory is reported (exit code 1, or 7 in a probe); block
		filesystems, bind mounts and tmpfs are mounted with the mount system
		call, filesystems that need a helper (nfs, cifs, glusterfs, fuse.*) and
		loop mounts through mount(8); UUID= and LABEL= are resolved by reading
		the superblocks of the block devices (ext2/3/4, xfs, btrfs) and need no
		udev; force_unmount=true and safe both use the /proc scan; force_clones
		allows a clone of every type, where upstream ignores it for the types
		it does not list; the systemd drop-in is written only where systemd
		runs (upstream creates /run/systemd/system anywhere, which makes
		programs believe systemd runs).`,
		Parameters: []ocf.Parameter{
			device, dir, fstype,
			ocf.Param("options", s, "", "Mount options",
				`Options as mount -o takes them, for example noatime,ro. With fstype
				none, bind options such as ro are applied by a remount.`),
			ocf.Param("statusfile_prefix", s, ".Filesystem_status/", "Status file prefix",
				`Where monitor at OCF_CHECK_LEVEL 20 writes its status file, relative
				to the mount point. The file is named after the resource, the clone
				instance and the node.`),
			ocf.Param("run_fsck", s, "auto", "Run fsck before mounting",
				`auto: run fsck -p for block filesystems that are not journalled (ext2,
				btrfs, vfat...; not ext3/4, xfs and the network filesystems); force:
				always; no: never. fsck exiting with 4 or more fails the start.`),
			ocf.Param("fast_stop", b, "no", "Give up unmounting after 6 seconds",
				`Spend at most 6 seconds per mount trying to unmount instead of the
				whole stop timeout.`),
			ocf.Param("force_clones", b, "false", "Allow cloning a local filesystem",
				`Allow the resource to be cloned although its filesystem (ext4, xfs...)
				is not cluster-aware. Without it such a clone refuses to start, unless
				it is a cluster or network filesystem (ocfs2, gfs2, nfs...) or, for a
				type other than ext3, ext4, xfs, jfs and reiserfs, mounted read-only.`),
			ocf.Param("force_unmount", s, "true", "Kill the processes holding the mount",
				`true or safe: on stop, signal the processes that hold the mount (open
				files, working or root directory, executable, memory maps) when the
				unmount fails. false: never signal, only retry the unmount. Upstream
				modifiers (move, nomove, xargs, ps...) are accepted and have no
				effect.`),
			ocf.Param("term_signals", s, "TERM", "First signals",
				`Signals sent to the holders first, for example TERM or TERM,INT.`),
			ocf.Param("kill_signals", s, "KILL", "Second signals",
				`Signals sent once half of the time is spent.`),
			ocf.Param("signal_delay", s, "1", "Seconds between signal rounds",
				`How long to wait after signalling before signalling again; the
				unmount is retried every 100 ms in between.`),
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 60 * time.Second},
			{Name: "stop", Timeout: 60 * time.Second},
			{Name: "monitor", Timeout: 40 * time.Second, Interval: 20 * time.Second, HasDepth: true},
			{Name: "validate-all", Timeout: 5 * time.Second},
			{Name: "meta-data", Timeout: 5 * time.Second},
		},
	}
}
