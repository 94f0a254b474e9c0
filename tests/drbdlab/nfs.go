package drbdlab

import (
	_ "embed"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/proc"
)

// The NFS service of the guides on the DRBD cluster: paceline's
// nfsserver and two exportfs resources join the services group before
// its address, the server's state on the replicated filesystem, and a
// client guest (ClusterSpec.Client) mounts through the floating address.
const (
	NFSRoot    = "/srv/data"         // the NFSv4 root (fsid 0)
	NFSExport  = "/srv/data/export"  // what clients mount
	NFSInfoDir = "/srv/data/nfsinfo" // nfs_shared_infodir
)

// ServerBootDelay is the BootDelay of the NFS clusters: a real server
// takes a minute or more to boot again after its BMC's power on, and a
// node that rejoins at once makes the survivor probe it before it starts
// the address, which would add the guest's slow boot to the outage.
const ServerBootDelay = time.Minute

// NFSPCS are the pcs commands that add the NFS server and its exports to
// the services group, ahead of the address, as the NFS guides order them.
func NFSPCS() [][]string {
	clients := LAN + ".0/24"
	before := []string{"--group", "svc", "--before", "vip"}
	return [][]string{
		append([]string{"resource", "create", "nfsd", "ocf:paceline:nfsserver", "nfs_shared_infodir=" + NFSInfoDir,
			"nfs_ip=" + VIP, "nfs_server_scope=" + VIP}, before...),
		append([]string{"resource", "create", "nfs_root", "ocf:paceline:exportfs", "directory=" + NFSRoot, "fsid=0",
			"clientspec=" + clients, "options=rw,sync,crossmnt,no_root_squash"}, before...),
		append([]string{"resource", "create", "nfs_export", "ocf:paceline:exportfs", "directory=" + NFSExport, "fsid=1",
			"clientspec=" + clients, "options=rw,sync,no_root_squash"}, before...),
	}
}

// SetupNFS adds the NFS service to the services running on guest p and
// waits until the whole group runs there again.
func (c *Cluster) SetupNFS(t testing.TB, p int) {
	t.Helper()
	c.Guest(p).MustExec(t, "mkdir -p "+NFSExport+" "+NFSInfoDir)
	c.PCS(t, p, NFSPCS()...)
	// The address restarts after the new members: wait for them all.
	name := c.Guest(p).Name()
	proc.Eventually(t, 3*time.Minute, time.Second, "the NFS service started on "+name, func() error {
		for _, id := range []string{"nfsd", "nfs_root", "nfs_export", "vip"} {
			if on, err := c.Where(p, id, "Started"); err != nil || len(on) != 1 || on[0] != name {
				return fmt.Errorf("%s runs on %v (%v)", id, on, err)
			}
		}
		return nil
	})
}

// MountNFS mounts the service on the client through the floating
// address, with the defaults a user gets: NFSv3 on /mnt/v3 (with rpcbind
// and statd, which its locks need; statd logs to /run/statd.log) and
// NFSv4.2 on /mnt/v4.
func (c *Cluster) MountNFS(t testing.TB) {
	t.Helper()
	c.Client.MustExec(t, "set -e; mkdir -p /run/rpcbind /var/lib/nfs/sm /var/lib/nfs/sm.bak /mnt/v3 /mnt/v4; "+
		"chown statd /var/lib/nfs/sm /var/lib/nfs/sm.bak 2>/dev/null || true; rpcbind -w; "+
		"{ setsid rpc.statd --no-notify -F -d </dev/null >/run/statd.log 2>&1 & }; sleep 1; "+
		"mount -t nfs -o vers=3 "+VIP+":"+NFSExport+" /mnt/v3; "+
		"mount -t nfs -o vers=4.2 "+VIP+":"+strings.TrimPrefix(NFSExport, NFSRoot)+" /mnt/v4")
}

//go:embed nfswriter.py
var nfsWriter string

// NFSWriter is a writer on the client (nfswriter.py): it holds a lock
// on one file of a mount and appends to another, recording each write
// the server confirmed.
type NFSWriter struct {
	g   *Guest
	Tag string // "v3" or "v4": the mount, and the files' names
	run string // its files on the client's tmpfs
}

// StartNFSWriter starts the writer of mount /mnt/TAG on the client and
// waits until it holds its lock and has written.
func (c *Cluster) StartNFSWriter(t testing.TB, tag string) *NFSWriter {
	t.Helper()
	w := &NFSWriter{g: c.Client, Tag: tag, run: "/run/pl-nfs-" + tag}
	dir := "/mnt/" + tag
	c.Client.MustExec(t, fmt.Sprintf("cat > /run/pl-nfswriter.py <<'PACELINE_EOF'\n%sPACELINE_EOF\n"+
		"rm -f %[2]s.*; setsid python3 /run/pl-nfswriter.py %[3]s/%[4]s.data %[3]s/%[4]s.lock %[2]s </dev/null >%[2]s.log 2>&1 &",
		nfsWriter, w.run, dir, tag))
	proc.Eventually(t, time.Minute, time.Second, "the "+tag+" writer writing", func() error {
		if n := len(w.Writes(t)); n < 3 {
			return fmt.Errorf("%d writes; log: %s", n, c.Client.MustExec(t, "cat "+w.run+".log"))
		}
		return nil
	})
	return w
}

// Writes returns when each confirmed write ended, on this machine's clock.
func (w *NFSWriter) Writes(t testing.TB) []time.Time {
	t.Helper()
	return w.g.Stamps(t, w.run+".times")
}

// Data is the path of the writer's file on the server.
func (w *NFSWriter) Data() string { return NFSExport + "/" + w.Tag + ".data" }

// Lock is the path of the writer's lock file on the server.
func (w *NFSWriter) Lock() string { return NFSExport + "/" + w.Tag + ".lock" }

// Stop ends the writer after its current write and returns the checksum
// of everything the server confirmed to it.
func (w *NFSWriter) Stop(t testing.TB) string {
	t.Helper()
	w.g.MustExec(t, "touch "+w.run+".stop")
	w.g.WaitFor(t, 2*time.Minute, "test -e "+w.run+".done")
	return strings.Fields(w.g.MustExec(t, "sha256sum "+w.run+".copy"))[0]
}

// Outage is the longest pause of a writer's writes after an event.
type Outage struct{ Last, First time.Time }

// Outage is called once the service runs again after an event at since.
// It waits until the writer has written ten times after the call (the
// client may resume well after the service: its TCP retransmissions
// back off) and returns the writer's longest pause since the event: its
// last write before, its first write after (what the client saw). A
// pause under a second fails the test: the writer did not go through
// the event.
func (w *NFSWriter) Outage(t testing.TB, since time.Time) Outage {
	t.Helper()
	back := time.Now()
	var at []time.Time
	proc.Eventually(t, 3*time.Minute, time.Second, "the "+w.Tag+" writer writing again", func() error {
		at = w.Writes(t)
		n := 0
		for _, a := range at {
			if a.After(back) {
				n++
			}
		}
		if n < 10 {
			return fmt.Errorf("%d writes since the service came back", n)
		}
		return nil
	})
	last, first := LongestPause(at, since)
	if first.Sub(last) < time.Second {
		t.Errorf("the %s writer never paused more than %v after %s: it did not see the failover", w.Tag, first.Sub(last),
			since.Format(time.RFC3339Nano))
	}
	return Outage{last, first}
}

// WaitLocks waits until guest i's kernel holds a POSIX lock on each
// writer's lock file (on a new server: the locks the client reclaimed).
// It fails the test with the state of statd on both sides otherwise.
func (c *Cluster) WaitLocks(t testing.TB, i int, writers []*NFSWriter, timeout time.Duration) {
	t.Helper()
	var files []string
	for _, w := range writers {
		files = append(files, w.Lock())
	}
	// /proc/locks names a file by device and inode: ":INODE " ends it.
	script := "for f in " + strings.Join(files, " ") + "; do i=$(stat -c %i $f) && grep -q \" POSIX .*:$i \" /proc/locks || { echo \"$f: no lock\"; exit 1; }; done"
	err := proc.Until(timeout, time.Second, func() error {
		if out, rc := c.Guest(i).Run(t, time.Minute, script); rc != 0 {
			return fmt.Errorf("%s", strings.TrimSpace(out))
		}
		return nil
	})
	if err != nil {
		diag, _ := c.Guest(i).Run(t, time.Minute, "cat /proc/locks; ls -l /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/sm.ha; "+
			"cat /run/resource-agents/nfsserver-notify.log")
		cdiag, _ := c.Client.Run(t, time.Minute, "tail -30 /run/statd.log; ls -l /var/lib/nfs/sm")
		t.Fatalf("%s: the client's locks: %v\nserver:\n%s\nclient:\n%s", c.Guest(i).Name(), err, diag, cdiag)
	}
}
