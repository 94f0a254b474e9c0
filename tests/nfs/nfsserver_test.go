//go:build system

package nfs_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/proc"
)

// nfsserverRes is the NFS server resource of the tests: its state on the
// exported filesystem, the service named after guest-a's address.
var nfsserverRes = []string{"-n", "nfs_server", "nfs_shared_infodir=" + rootDir + "/nfsinfo", "nfs_ip=192.0.2.11", "nfs_server_scope=192.0.2.11"}

// agentRun runs an action of agent with one of the tests' resources in
// guest g and returns the output and the exit code paceline run reports.
func agentRun(t *testing.T, g *drbdlab.Guest, agent, action, timeout string, res []string) (string, int) {
	t.Helper()
	out, _ := g.Run(t, 3*time.Minute, fmt.Sprintf(
		"HA_RSCTMP=/run/resource-agents %s run -v %s --timeout %s %s %s %s 2>&1",
		pacelineBin(t), strings.Join(res[:2], " "), timeout, agent, action, strings.Join(res[2:], " ")))
	m := regexp.MustCompile(`exit code (\d+) `).FindStringSubmatch(out)
	if m == nil || strings.Contains(out, "killed at the timeout") {
		t.Fatalf("%s %s on %s: no result in time\n%s", agent, action, g.Name(), out)
	}
	code, _ := strconv.Atoi(m[1])
	return out, code
}

func mustRun(t *testing.T, g *drbdlab.Guest, agent, action, timeout string, res []string, want int) string {
	t.Helper()
	out, code := agentRun(t, g, agent, action, timeout, res)
	if code != want {
		t.Fatalf("%s %s on %s: exit %d, want %d\n%s", agent, action, g.Name(), code, want, out)
	}
	return out
}

// serverLocks counts the POSIX locks the server's kernel holds for NFS
// clients on the exported filesystem (lockd and nfsd take them).
func serverLocks(t *testing.T, g *drbdlab.Guest) int {
	t.Helper()
	out, _ := g.Run(t, time.Minute, "grep -c POSIX /proc/locks")
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// locks waits until the server holds want locks.
func locks(t *testing.T, g *drbdlab.Guest, want int, timeout time.Duration) {
	t.Helper()
	proc.Eventually(t, timeout, time.Second, fmt.Sprintf("%d locks held on %s", want, g.Name()), func() error {
		if n := serverLocks(t, g); n != want {
			return fmt.Errorf("%d locks", n)
		}
		return nil
	})
}

// TestNFSServerRestart runs ocf:paceline:nfsserver and exportfs on
// guest-a without systemd (the agent starts the daemons itself), with the
// server's state on the exported filesystem; guest-b holds an NFSv3 and
// an NFSv4.2 lock. A stop and a start of the server (as a failover does
// on the same storage) keep the state: the client reclaims both locks.
func TestNFSServerRestart(t *testing.T) {
	p := drbdlab.StartPair(t, drbdlab.PairSpec{DiskMiB: 64, MemMiB: 384})
	srv, cli := p.A, p.B
	t.Cleanup(func() {
		if t.Failed() {
			for _, g := range []*drbdlab.Guest{srv, cli} {
				out, _ := g.Run(t, time.Minute, "cat /proc/locks; ls -l /var/lib/nfs/sm /var/lib/nfs/sm.bak 2>&1; "+
					"cat /run/resource-agents/nfsserver-notify.log 2>/dev/null; tail -40 /run/statd.log 2>/dev/null")
				t.Logf("%s:\n%s", g.Name(), out)
			}
		}
	})
	srv.MustExec(t, "set -e; mkfs.ext4 -q -F /dev/vda; mkdir -p "+rootDir+"; mount /dev/vda "+rootDir+"; mkdir -p "+exportDir)
	mustRun(t, srv, "nfsserver", "monitor", "20s", nfsserverRes, 7)
	mustRun(t, srv, "nfsserver", "start", "40s", nfsserverRes, 0)
	mustRun(t, srv, "nfsserver", "monitor", "20s", nfsserverRes, 0)
	if out := srv.MustExec(t, "findmnt -n -o SOURCE /var/lib/nfs"); !strings.Contains(out, "[/nfsinfo]") {
		t.Errorf("/var/lib/nfs is %q, want the shared directory nfsinfo", out)
	}
	for _, res := range [][]string{root, export} {
		mustRun(t, srv, "exportfs", "start", "40s", res, 0)
	}
	// The client's lock manager needs rpcbind and statd.
	cli.MustExec(t, "mkdir -p /run/rpcbind /var/lib/nfs/sm /var/lib/nfs/sm.bak; rpcbind -w; setsid rpc.statd --no-notify -F -d </dev/null >/run/statd.log 2>&1 &")
	cli.MustExec(t, "set -e; mkdir -p /mnt/v3 /mnt/v4; mount -t nfs -o vers=3 "+srv.IP()+":"+exportDir+" /mnt/v3; "+
		"mount -t nfs -o vers=4.2 "+srv.IP()+":/exports /mnt/v4; touch /mnt/v3/lock3 /mnt/v4/lock4")
	cli.MustExec(t, "setsid flock /mnt/v3/lock3 sleep 100000 </dev/null >/dev/null 2>&1 & setsid flock /mnt/v4/lock4 sleep 100000 </dev/null >/dev/null 2>&1 &")
	locks(t, srv, 2, time.Minute)
	out := srv.MustExec(t, "ls "+rootDir+"/nfsinfo/sm; cat "+rootDir+"/nfsinfo/sm/*")
	t.Logf("the server's monitor list:\n%s", out)
	if !strings.Contains(out, cli.IP()) && !strings.Contains(out, cli.Name()) {
		t.Errorf("statd's monitor list on the shared state has no entry for the client: %q", out)
	}

	for _, res := range [][]string{export, root} {
		mustRun(t, srv, "exportfs", "stop", "120s", res, 0)
	}
	mustRun(t, srv, "nfsserver", "stop", "20s", nfsserverRes, 0)
	mustRun(t, srv, "nfsserver", "monitor", "20s", nfsserverRes, 7)
	if out, rc := srv.Run(t, time.Minute, "findmnt -n /var/lib/nfs"); rc == 0 {
		t.Errorf("/var/lib/nfs still mounted after the stop: %s", out)
	}
	if n := serverLocks(t, srv); n != 0 {
		t.Errorf("%d locks left on the server after the stop", n)
	}

	start := time.Now()
	mustRun(t, srv, "nfsserver", "start", "40s", nfsserverRes, 0)
	for _, res := range [][]string{root, export} {
		mustRun(t, srv, "exportfs", "start", "40s", res, 0)
	}
	// sm-notify tells the v3 client to reclaim; the v4 client reclaims
	// in the grace period, under the same server scope.
	locks(t, srv, 2, 3*time.Minute)
	t.Logf("both locks back %v after the start", time.Since(start).Round(100*time.Millisecond))
	// The v3 lock came back because the notifications went out.
	if out := srv.MustExec(t, "cat /run/resource-agents/nfsserver-notify.log"); !strings.Contains(out, "sm-notify -f -v 192.0.2.11: <nil>") {
		t.Errorf("the notifier did not notify the clients:\n%s", out)
	}
	mustRun(t, srv, "nfsserver", "monitor", "20s", nfsserverRes, 0)
}
