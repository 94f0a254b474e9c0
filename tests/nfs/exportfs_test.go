//go:build system

// Package nfs tests the NFS agents with the Debian kernel's NFS server
// and client, in the DRBD guests. TestExportfs and TestNFSServerRestart
// run the agents by hand: guest-a serves (its disk, ext4, under the
// export), guest-b mounts over the guests' link. TestNFSFailover runs
// them under Pacemaker on the DRBD cluster, with a third guest as the
// client (scenario.NFS).
package nfs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// pacelineBin is the paceline under test, installed by the harness in a
// directory of this machine's /tmp, which the guests see at the same
// path: the tier needs no make install.
func pacelineBin(t *testing.T) string { return filepath.Join(harness.Install(t), "paceline") }

// The exports of the tests, as the NFS guides make them: the NFSv4
// root (fsid 0) on the exported filesystem, and the export below it that
// clients mount (NFSv4 as /exports). The guests' own root is an overlay
// that NFS cannot export, so NFSv4 needs the explicit root here.
const (
	rootDir   = "/srv/nfs"
	exportDir = "/srv/nfs/exports"
)

var (
	root   = []string{"-n", "nfs_root", "directory=" + rootDir, "clientspec=192.0.2.0/24", "options=rw,sync,crossmnt,no_root_squash", "fsid=root"}
	export = []string{"-n", "nfs_export", "directory=" + exportDir, "clientspec=192.0.2.0/24", "options=rw,sync,no_root_squash", "fsid=1"}
)

// exportfs runs an action of ocf:paceline:exportfs (agentRun).
func exportfs(t *testing.T, g *drbdlab.Guest, action, timeout string, res []string) (string, int) {
	t.Helper()
	return agentRun(t, g, "exportfs", action, timeout, res)
}

// mustExportfs is exportfs that fails the test unless the exit code is want.
func mustExportfs(t *testing.T, g *drbdlab.Guest, action, timeout string, res []string, want int) string {
	t.Helper()
	return mustRun(t, g, "exportfs", action, timeout, res, want)
}

func TestExportfs(t *testing.T) {
	p := drbdlab.StartPair(t, drbdlab.PairSpec{DiskMiB: 64, MemMiB: 384})
	srv, cli := p.A, p.B
	srv.MustExec(t, "set -e; mkfs.ext4 -q -F /dev/vda; mkdir -p "+rootDir+"; mount /dev/vda "+rootDir+"; mkdir -p "+exportDir)
	t.Logf("%s", srv.StartNFSServer(t))
	mustExportfs(t, srv, "monitor", "20s", export, 7) // a probe before the start
	for _, res := range [][]string{root, export} {
		mustExportfs(t, srv, "start", "40s", res, 0)
		mustExportfs(t, srv, "monitor", "20s", res, 0)
	}
	out := srv.MustExec(t, "exportfs -v")
	for _, want := range []string{exportDir, "fsid=1", rootDir, "fsid=0"} {
		if !strings.Contains(out, want) {
			t.Errorf("exportfs -v on %s has no %s:\n%s", srv.Name(), want, out)
		}
	}

	t.Run("clients-mount", func(t *testing.T) {
		// NFSv4.2 writes, NFSv3 (no lock manager on the client) reads.
		cli.MustExec(t, "set -e; mkdir -p /mnt/v4 /mnt/v3; mount -t nfs -o vers=4.2 "+srv.IP()+":/exports /mnt/v4; "+
			"mount -t nfs -o vers=3,nolock "+srv.IP()+":"+exportDir+" /mnt/v3")
		sum := strings.Fields(cli.MustExec(t, "set -e; dd if=/dev/urandom of=/mnt/v4/data bs=1M count=2 conv=fsync status=none; sha256sum /mnt/v4/data"))[0]
		for _, c := range []struct {
			what string
			g    *drbdlab.Guest
			path string
		}{{"the server's disk", srv, exportDir + "/data"}, {"the v3 mount", cli, "/mnt/v3/data"}} {
			if got := strings.Fields(c.g.MustExec(t, "sha256sum "+c.path))[0]; got != sum {
				t.Errorf("%s reads %s, want %s", c.what, got, sum)
			}
		}
		// The v3 mount is in the rmtab: the monitor backs it up beside the
		// data, for the node that takes over.
		mustExportfs(t, srv, "monitor", "20s", export, 0)
		if out := srv.MustExec(t, "cat "+exportDir+"/.rmtab"); !strings.Contains(out, cli.IP()+":"+exportDir+":") {
			t.Errorf("rmtab backup on %s: %q, want the client %s", srv.Name(), out, cli.IP())
		}
	})

	t.Run("ocf-tester", func(t *testing.T) {
		// resource-agents' own checker, on an export of its own.
		out, rc := srv.Run(t, 3*time.Minute, "mkdir -p "+rootDir+"/tester && ocf-tester -n nfs_tester -o directory="+rootDir+"/tester "+
			"-o clientspec="+cli.IP()+" -o fsid=5 "+filepath.Join(harness.Install(t), "exportfs")+" 2>&1")
		if rc != 0 || !strings.Contains(out, "passed all tests") {
			t.Errorf("ocf-tester: exit %d\n%s", rc, out)
		}
	})

	t.Run("hung-filesystem", func(t *testing.T) {
		// The filesystem below the export stops taking writes (frozen, as a
		// stalled device does), and the rmtab changes: the backup blocks in
		// the agent's child. monitor and stop still end in time, and the
		// stop still withdraws the export.
		srv.MustExec(t, "echo '192.0.2.99:"+exportDir+":0x00000001' >> /var/lib/nfs/rmtab; fsfreeze -f "+rootDir)
		t.Cleanup(func() { srv.Run(t, time.Minute, "fsfreeze -u "+rootDir) })
		if out := mustExportfs(t, srv, "monitor", "20s", export, 0); !strings.Contains(out, "rmtab backup") {
			t.Errorf("monitor on a frozen filesystem: no warning about the rmtab backup\n%s", out)
		}
		mustExportfs(t, srv, "stop", "20s", export, 0)
		if out := srv.MustExec(t, "exportfs -v"); strings.Contains(out, exportDir) {
			t.Errorf("still exported after the stop:\n%s", out)
		}
		srv.MustExec(t, "fsfreeze -u "+rootDir)
	})

	t.Run("withdrawn", func(t *testing.T) {
		mustExportfs(t, srv, "monitor", "20s", export, 7)
		mustExportfs(t, srv, "stop", "20s", root, 0)
		mustExportfs(t, srv, "monitor", "20s", root, 7)
		for _, m := range []string{"vers=4.2 " + srv.IP() + ":/exports", "vers=3,nolock " + srv.IP() + ":" + exportDir} {
			out, rc := cli.Run(t, time.Minute, "mkdir -p /mnt/again; timeout 30 mount -t nfs -o retry=0,"+m+" /mnt/again 2>&1")
			if rc == 0 {
				t.Errorf("mount -o %s succeeded with nothing exported:\n%s", m, out)
				cli.Run(t, time.Minute, "umount /mnt/again")
			}
		}
		// Exported again, the client mounts again and finds its data.
		mustExportfs(t, srv, "start", "40s", root, 0)
		mustExportfs(t, srv, "start", "40s", export, 0)
		cli.MustExec(t, "timeout 60 mount -t nfs -o vers=4.2 "+srv.IP()+":/exports /mnt/again && test -s /mnt/again/data")
		mustExportfs(t, srv, "stop", "120s", export, 0)
		mustExportfs(t, srv, "stop", "120s", root, 0)
	})
}
