package scenario

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/proc"
)

// The SAN cluster of the classic guides: one disk every node sees (here
// a raw file both guests' qemu attach with share-rw, /dev/vdb in the
// guests), a cluster filesystem on it that both nodes mount at once,
// DLM (ocf:pacemaker:controld) cloned under it, fencing over IPMI.

// sharedDir is where the cluster filesystem is mounted in both guests.
const sharedDir = "/srv/shared"

// clusterFSPCS is the configuration, in the guides' pcs commands: DLM
// cloned, then the filesystem cloned, interleaved, ordered after DLM and
// colocated with it; its recurring monitor writes and reads back its
// status file (depth 20), and a failed monitor fences, as the guides
// set it.
func clusterFSPCS(fstype string) [][]string {
	return [][]string{
		{"property", "set", "no-quorum-policy=freeze"},
		{"resource", "create", "dlm", "ocf:pacemaker:controld",
			"op", "monitor", "interval=30s", "on-fail=fence", "clone", "interleave=true", "ordered=true"},
		{"resource", "create", "sharedfs", "ocf:paceline:Filesystem", "device=/dev/vdb", "directory=" + sharedDir,
			"fstype=" + fstype, "options=noatime",
			"op", "monitor", "interval=10s", "timeout=40s", "on-fail=fence", "OCF_CHECK_LEVEL=20", "clone", "interleave=true"},
		{"constraint", "order", "start", "dlm-clone", "then", "sharedfs-clone"},
		{"constraint", "colocation", "add", "sharedfs-clone", "with", "dlm-clone"},
	}
}

// makeClusterFS formats the shared disk image as the guides do on one
// node: for the cluster's DLM (its name is the lock table's), with a
// journal for each of the two nodes.
func makeClusterFS(t *testing.T, fstype string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "shared.img")
	proc.Run(t, "truncate", "-s", "256M", img)
	switch fstype {
	case "ocfs2":
		proc.Run(t, "mkfs.ocfs2", "-q", "-F", "--cluster-stack=pcmk", "--cluster-name="+drbdlab.ClusterName,
			"-N", "2", "-L", "shared", img)
	case "gfs2":
		proc.Run(t, "mkfs.gfs2", "-O", "-p", "lock_dlm", "-t", drbdlab.ClusterName+":shared", "-j", "2", "-J", "16", img)
	default:
		t.Fatalf("no cluster filesystem %q", fstype)
	}
	return img
}

// ClusterFS runs the SAN cluster with fstype (ocfs2 or gfs2) in the DRBD
// guests: both nodes mount at once and see each other's writes, the
// depth-20 monitor passes on each, a crashed node is fenced while the
// survivor keeps its mount and writes again once DLM has recovered, the
// crashed node mounts again when it is back, and stopping one instance,
// busy, ends only that node's holders.
func ClusterFS(t *testing.T, env Env, fstype string) {
	for _, p := range []string{"mkfs." + fstype, "dlm_controld"} {
		if _, err := proc.LookPath(p); err != nil {
			t.Fatalf("%s is not installed (tests/install-deps.sh installs it)", p)
		}
	}
	img := makeClusterFS(t, fstype)
	c := drbdlab.StartCluster(t, drbdlab.ClusterSpec{Root: env.Root, Shared: img})
	ver, _ := c.Guest(0).Run(t, time.Minute, "pacemakerd --version | head -1; uname -r")
	t.Logf("the guests run %s", strings.Join(strings.Fields(ver), " "))
	if !strings.HasPrefix(ver, "Pacemaker "+env.Pacemaker) {
		t.Fatalf("the guests run %q, want Pacemaker %s*", ver, env.Pacemaker)
	}
	start := time.Now()
	c.PCS(t, 0, append(c.Fencing(), clusterFSPCS(fstype)...)...)
	waitMounted(t, c, []int{0, 1}, 4*time.Minute)
	t.Logf("%s mounted on both nodes %v after the configuration", fstype, time.Since(start).Round(100*time.Millisecond))

	t.Run("both-mount", func(t *testing.T) {
		for i := range c.Guests() {
			name := "from-" + c.Guest(i).Name()
			sum := writeShared(t, c, i, name)
			if got := sharedSum(t, c, 1-i, name); got != sum {
				t.Errorf("%s wrote %s with checksum %s; %s reads %s", c.Guest(i).Name(), name, sum, c.Guest(1-i).Name(), got)
			}
		}
	})

	t.Run("depth-20-monitor", func(t *testing.T) {
		// Each node's recurring monitor writes its own status file on the
		// shared filesystem every 10 s: both files appear and both keep
		// changing, seen from one node, and no monitor failed.
		first := statusStamps(t, c, 0)
		waitUntil(t, time.Minute, "both nodes' status files rewritten, seen from "+c.Guest(0).Name(), func() (bool, string) {
			now := statusStamps(t, c, 0)
			ok := len(now) == 2
			for node, stamp := range now {
				ok = ok && first[node] != "" && stamp != first[node]
			}
			return ok, fmt.Sprint(first, " now ", now)
		})
		if failed := failedActions(t, c, 0); failed != "" {
			t.Errorf("failed actions: %s", failed)
		}
		// And the agent run by hand at depth 20 on each node, as an
		// operator would check it.
		for _, g := range c.Guests() {
			out, rc := g.Run(t, time.Minute, "paceline run --depth 20 -n check --meta clone=9 Filesystem monitor device=/dev/vdb directory="+
				sharedDir+" fstype="+fstype+" 2>&1")
			if rc != 0 {
				t.Errorf("%s: depth-20 monitor: exit %d\n%s", g.Name(), rc, out)
			}
		}
	})

	t.Run("crash", func(t *testing.T) {
		v, s := 1, 0
		before := fenceRecord(t, c, s, v)
		sum := writeShared(t, c, v, "before-crash")
		// The survivor takes the cluster-wide flock of a file before each
		// write of its own; the node about to crash takes that lock and
		// keeps it, so the survivor needs a lock the dead node holds: its
		// writes stall until DLM has recovered the dead node's locks,
		// which it does only once the node is fenced. (A lock the dead
		// node merely had cached, a file it kept writing, is a race: the
		// survivor may hold it at the crash and never wait.)
		writer := startWriter(t, c, s, "crash.lock")
		held := sharedDir + "/crash.lock"
		c.Guest(v).MustExec(t, "rm -f /run/pl-held; setsid flock "+held+" sh -c 'touch /run/pl-held; exec sleep 1000000' </dev/null >/dev/null 2>&1 &")
		c.Guest(v).WaitFor(t, time.Minute, "test -e /run/pl-held")
		crash := time.Now()
		c.Guest(v).Kill(t)
		recovered := waitSeen(t, c, s, 3*time.Minute, "DLM recovered on "+c.Guest(s).Name(), func() (bool, string) {
			out, _ := c.Guest(s).Run(t, 30*time.Second, "dlm_tool ls 2>&1")
			return dlmSettled(out, c.Guest(v).Name()), out
		})
		waitPowerOff(t, c, v, crash)
		fencedBy(t, c, s, v, before, crash)
		fenced := powerOffAt(c, v, crash)
		if recovered.Before(fenced) {
			t.Errorf("DLM recovered %v before the BMC cut %s's power: it did not wait for fencing",
				fenced.Sub(recovered), c.Guest(v).Name())
		}
		stalled, resumed := writer.stall(t, crash, recovered)
		if !mounted(t, c, s) {
			t.Errorf("%s lost its mount after %s crashed", c.Guest(s).Name(), c.Guest(v).Name())
		}
		sumAfter := writeShared(t, c, s, "after-crash")
		if got := sharedSum(t, c, s, "before-crash"); got != sum {
			t.Errorf("before-crash reads %s on the survivor, want %s", got, sum)
		}
		t.Logf("crash of %s at %s, seen from %s:", c.Guest(v).Name(), crash.Format("15:04:05.000"), c.Guest(s).Name())
		for _, e := range []struct {
			what string
			at   time.Time
		}{
			{"the survivor's last write before its writes stalled", stalled},
			{"fenced: the BMC cut the power", fenced},
			{"DLM recovered (dlm_tool ls, polled every second)", recovered},
			{"the survivor's first write after the stall", resumed},
		} {
			t.Logf("  %+7.2f s  %s", e.at.Sub(crash).Seconds(), e.what)
		}
		pcmkTimeline(t, c, crash)
		// The crashed node is powered on again by its BMC, rejoins and
		// mounts again, and reads what the survivor wrote meanwhile.
		if err := c.WaitReady(4 * time.Minute); err != nil {
			t.Fatal(err)
		}
		waitMounted(t, c, []int{0, 1}, 3*time.Minute)
		t.Logf("%s mounted again %v after the crash", c.Guest(v).Name(), time.Since(crash).Round(100*time.Millisecond))
		if got := sharedSum(t, c, v, "after-crash"); got != sumAfter {
			t.Errorf("%s reads after-crash as %s, want %s", c.Guest(v).Name(), got, sumAfter)
		}
	})

	t.Run("stop-one-busy", func(t *testing.T) {
		// A process on each node works in the mount; banning the clone
		// from one node stops that instance: its holder is killed, the
		// other node's keeps running, mounted.
		holders := [2]int{}
		for i := range c.Guests() {
			holders[i] = startHolder(t, c, i)
		}
		b, a := 1, 0
		fencedBefore := fenceRecord(t, c, a, b)
		out, rc := c.Guest(a).Run(t, 2*time.Minute, "pcs resource ban sharedfs-clone "+c.Guest(b).Name())
		if rc != 0 {
			t.Fatalf("pcs resource ban: exit %d\n%s", rc, out)
		}
		waitUntil(t, 2*time.Minute, "sharedfs stopped on "+c.Guest(b).Name(), func() (bool, string) {
			on, err := c.Where(a, "sharedfs", "Started")
			return err == nil && len(on) == 1 && on[0] == c.Guest(a).Name() && !mounted(t, c, b), fmt.Sprint(on, err)
		})
		if alive(t, c, b, holders[b]) {
			t.Errorf("%s: the holder %d survived the stop", c.Guest(b).Name(), holders[b])
		}
		if !alive(t, c, a, holders[a]) {
			t.Errorf("%s: the holder %d was killed by the stop on %s", c.Guest(a).Name(), holders[a], c.Guest(b).Name())
		}
		if !mounted(t, c, a) {
			t.Errorf("%s lost its mount when %s stopped", c.Guest(a).Name(), c.Guest(b).Name())
		}
		writeShared(t, c, a, "while-one-stopped")
		out, rc = c.Guest(a).Run(t, 2*time.Minute, "pcs resource clear sharedfs-clone")
		if rc != 0 {
			t.Fatalf("pcs resource clear: exit %d\n%s", rc, out)
		}
		waitMounted(t, c, []int{0, 1}, 2*time.Minute)
		c.Guest(a).MustExec(t, "kill "+strconv.Itoa(holders[a]))
		if n := fenceRecord(t, c, a, b); n != fencedBefore {
			t.Errorf("%s was fenced %d times during the stop; a busy stop must end cleanly", c.Guest(b).Name(), n-fencedBefore)
		}
	})
}

// waitMounted waits until sharedfs runs on the guests and the filesystem
// is mounted there.
func waitMounted(t *testing.T, c *drbdlab.Cluster, guests []int, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "sharedfs started and mounted on guests "+fmt.Sprint(guests), func() (bool, string) {
		on, err := c.Where(guests[0], "sharedfs", "Started")
		if err != nil || len(on) != len(guests) {
			return false, fmt.Sprint(on, err, failedActions(t, c, guests[0]))
		}
		for _, i := range guests {
			if !mounted(t, c, i) {
				return false, c.Guest(i).Name() + " has no mount on " + sharedDir
			}
		}
		return true, ""
	})
}

// mounted reports whether guest i has the shared filesystem mounted.
func mounted(t *testing.T, c *drbdlab.Cluster, i int) bool {
	t.Helper()
	_, rc := c.Guest(i).Run(t, 30*time.Second, "grep -q ' "+sharedDir+" ' /proc/self/mounts")
	return rc == 0
}

// failedActions is crm_mon's list of failed resource actions on guest i.
func failedActions(t *testing.T, c *drbdlab.Cluster, i int) string {
	t.Helper()
	out, _ := c.Guest(i).Run(t, 30*time.Second, "crm_mon -1 | sed -n '/Failed Resource Actions/,$p'")
	return strings.TrimSpace(out)
}

// writeShared writes 4 MiB of random data to a file of the shared
// filesystem on guest i, flushed, and returns its checksum.
func writeShared(t *testing.T, c *drbdlab.Cluster, i int, name string) string {
	t.Helper()
	out := c.Guest(i).MustExec(t, fmt.Sprintf(
		"set -e; dd if=/dev/urandom of=%[1]s/%[2]s bs=1M count=4 conv=fsync status=none; sha256sum %[1]s/%[2]s", sharedDir, name))
	return strings.Fields(out)[0]
}

// sharedSum is the checksum of a file of the shared filesystem read on
// guest i, or what went wrong.
func sharedSum(t *testing.T, c *drbdlab.Cluster, i int, name string) string {
	t.Helper()
	out, rc := c.Guest(i).Run(t, time.Minute, "sha256sum "+sharedDir+"/"+name+" 2>&1")
	if f := strings.Fields(out); rc == 0 && len(f) > 0 {
		return f[0]
	}
	return strings.TrimSpace(out)
}

// waitSeen is waitUntil that returns when the condition was first seen.
func waitSeen(t *testing.T, c *drbdlab.Cluster, i int, timeout time.Duration, what string, cond func() (bool, string)) time.Time {
	t.Helper()
	var at time.Time
	waitUntil(t, timeout, what, func() (bool, string) {
		ok, state := cond()
		if ok {
			at = time.Now()
		}
		return ok, state
	})
	return at
}

// powerOffAt is when guest v's BMC cut its power after since.
func powerOffAt(c *drbdlab.Cluster, v int, since time.Time) time.Time {
	for _, e := range c.BMCs[v].PowerEvents() {
		if !e.On && !e.At.Before(since) {
			return e.At
		}
	}
	return time.Time{}
}

// dlmSettled reads dlm_tool ls: a lockspace is listed, none has a change
// under way ("new ..." lines, a "wait ..." status, kernel locking
// stopped), and none still lists the dead node (corosync's nodeid: 1 for
// guest-a, 2 for guest-b) among its members.
func dlmSettled(out, dead string) bool {
	if !strings.Contains(out, "name") {
		return false // no lockspace yet, or dlm_controld not answering
	}
	nodeid := map[string]string{"guest-a": "1", "guest-b": "2"}[dead]
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 0:
		case f[0] == "new", strings.Contains(l, "wait"), strings.Contains(l, "kern_stop"):
			return false
		case f[0] == "members" && slices.Contains(f[1:], nodeid):
			return false
		}
	}
	return true
}

// writer is a loop in a guest that writes its own file of the shared
// filesystem every 0.2 s, flushing each write, and records on the
// guest's own tmpfs when each write ended (guest clock, in seconds).
type writer struct {
	c *drbdlab.Cluster
	i int
}

// startWriter starts a writer on guest i; with lock set, each round
// first takes and drops the flock of that file of the shared filesystem.
func startWriter(t *testing.T, c *drbdlab.Cluster, i int, lock string) writer {
	t.Helper()
	own := sharedDir + "/writer-" + c.Guest(i).Name()
	step := "echo $n > " + own + " && sync " + own
	if lock != "" {
		step = "flock " + sharedDir + "/" + lock + " true && " + step
	}
	c.Guest(i).MustExec(t, `rm -f /run/pl-writes; setsid sh -c 'n=0; while :; do n=$((n+1)); `+
		step+` && date +%s.%N >> /run/pl-writes; sleep 0.2; done' </dev/null >/dev/null 2>&1 &`)
	w := writer{c, i}
	waitUntil(t, time.Minute, "the writer writing on "+c.Guest(i).Name(), func() (bool, string) {
		return len(w.writes(t)) >= 3, "fewer than 3 writes"
	})
	return w
}

// writes returns when the writer's writes ended, on this machine's clock.
func (w writer) writes(t *testing.T) []time.Time {
	t.Helper()
	return w.c.Guest(w.i).Stamps(t, "/run/pl-writes")
}

// stall waits until the writer has written after settled (DLM
// recovered), then returns the longest pause of its writes since the
// crash: the last write before it and the first after. A writer that
// never paused fails the test: it needed the dead node's lock.
func (w writer) stall(t *testing.T, crash, settled time.Time) (last, first time.Time) {
	t.Helper()
	var at []time.Time
	waitUntil(t, 2*time.Minute, "the writer on "+w.c.Guest(w.i).Name()+" writing after DLM recovered", func() (bool, string) {
		at = w.writes(t)
		return len(at) > 0 && at[len(at)-1].After(settled), "no write after DLM recovered yet"
	})
	last, first = drbdlab.LongestPause(at, crash)
	if first.Sub(last) < 2*time.Second {
		t.Errorf("the writer on %s never paused more than %v: it did not wait for the dead node's lock", w.c.Guest(w.i).Name(), first.Sub(last))
	}
	return last, first
}

// statusStamps lists, as seen from guest i, the modification time of
// each node's depth-20 status file of sharedfs, by node name.
func statusStamps(t *testing.T, c *drbdlab.Cluster, i int) map[string]string {
	t.Helper()
	out, _ := c.Guest(i).Run(t, time.Minute, "stat -c '%n %y' "+sharedDir+"/.Filesystem_status/sharedfs* 2>/dev/null")
	stamps := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, stamp, ok := strings.Cut(l, " ")
		for _, g := range c.Guests() {
			if ok && strings.HasSuffix(name, "_"+g.Name()) {
				stamps[g.Name()] = stamp
			}
		}
	}
	return stamps
}

// startHolder starts a process on guest i whose working directory is in
// the shared filesystem, and returns its PID.
func startHolder(t *testing.T, c *drbdlab.Cluster, i int) int {
	t.Helper()
	out := c.Guest(i).MustExec(t, "cd "+sharedDir+" && setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $!")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("%s: holder: %q", c.Guest(i).Name(), out)
	}
	return pid
}

// alive reports whether pid still runs on guest i.
func alive(t *testing.T, c *drbdlab.Cluster, i, pid int) bool {
	t.Helper()
	_, rc := c.Guest(i).Run(t, 30*time.Second, "kill -0 "+strconv.Itoa(pid))
	return rc == 0
}

// pcmkTimeline logs what the guests' pacemaker logs and the BMCs saw
// since the crash.
func pcmkTimeline(t *testing.T, c *drbdlab.Cluster, since time.Time) {
	t.Helper()
	var b strings.Builder
	for _, e := range c.Timeline(since) {
		fmt.Fprintf(&b, "  %+7.2f s  %-10s %s\n", e.Time.Sub(since).Seconds(), e.Node, e.What)
	}
	t.Logf("the cluster's timeline since the crash:\n%s", b.String())
}
