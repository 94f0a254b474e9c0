// Package scenario holds the cluster scenarios: paceline's agents run
// the way users run them, under a real Corosync + Pacemaker cluster of
// three nodes (tests/nscluster), configured with pcs, with fencing over
// IPMI to simulated BMCs that really power the nodes off and on, a
// shared disk, and libvirtd on every node. Each scenario is a function
// of the environment it runs in (Env: the nodes' userspace), so that the
// same scenarios prove each supported stack: tests/cluster runs them on
// this machine's (Debian 12, Pacemaker 2.1), tests/pacemaker3 in a
// Debian 13 root (Pacemaker 3.0).
package scenario

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Env is where a scenario runs.
type Env struct {
	// Root is the nodes' userspace (nscluster.Spec.Root); empty:
	// this machine's.
	Root string
	// Pacemaker is the version the nodes' pacemakerd must report (a
	// prefix, as "3."), so that a scenario cannot pass on another stack
	// than the one it is meant to prove; empty: any.
	Pacemaker string
	// NoFencePeer, when set, says why DRBD's resource-level fencing
	// handler (crm-fence-peer.sh) cannot work in this userspace: the DRBD
	// scenarios then run without it, and not the one that proves it.
	NoFencePeer string
}

// start brings the scenario's cluster up and checks, and logs, the
// versions of the stack its nodes run.
func (e Env) start(t *testing.T, libvirt bool) *nscluster.Cluster {
	t.Helper()
	c := nscluster.Start(t, e.spec(libvirt))
	out := exec(t, c, 1, "pacemakerd", "--version")
	ver := strings.TrimPrefix(strings.SplitN(out, "\n", 2)[0], "Pacemaker ")
	cs := exec(t, c, 1, "corosync", "-v")
	t.Logf("the nodes run Pacemaker %s, %s", ver, strings.SplitN(cs, "\n", 2)[0])
	if !strings.HasPrefix(ver, e.Pacemaker) {
		t.Fatalf("the nodes run Pacemaker %q, want %s*", ver, e.Pacemaker)
	}
	return c
}

// spec is the scenarios' cluster (nscluster.FailoverSpec) in env.
func (e Env) spec(libvirt bool) nscluster.Spec {
	s := nscluster.FailoverSpec(libvirt)
	s.Root = e.Root
	return s
}

// requireInstalled checks that the agents Pacemaker will run are the
// paceline under test: make install (with DESTDIR for a root) puts them
// where the nodes look.
func (e Env) requireInstalled(t *testing.T) {
	t.Helper()
	err := harness.CheckInstalledAt(e.Root, os.Getenv("PACELINE_BIN"))
	harness.Require(t, err == nil, "%v", err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func exec(t *testing.T, c *nscluster.Cluster, i int, name string, args ...string) string {
	t.Helper()
	out, err := c.Exec(i, time.Minute, name, args...)
	if err != nil {
		t.Fatalf("%s: %s %s: %v\n%s", nscluster.NodeName(i), name, strings.Join(args, " "), err, out)
	}
	return out
}

// locate returns the one node rsc runs on.
func locate(t *testing.T, c *nscluster.Cluster, rsc string) int {
	t.Helper()
	n, err := c.LocateOne(rsc)
	must(t, err)
	return n
}

// waitLocated waits until rsc runs on exactly one node other than not.
func waitLocated(t *testing.T, c *nscluster.Cluster, rsc string, not int, timeout time.Duration) int {
	t.Helper()
	n, err := c.WaitLocated(rsc, not, timeout)
	must(t, err)
	return n
}

// waitEvent waits for a line matching re in node i's log, at or after since.
func waitEvent(t *testing.T, c *nscluster.Cluster, i int, re *regexp.Regexp, since time.Time, timeout time.Duration) pcmk.LogEvent {
	t.Helper()
	e, err := c.WaitEvent([]int{i}, re, since, timeout)
	must(t, err)
	return e
}

// waitFor waits until ok holds, polling every 200 ms.
func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	proc.Eventually(t, timeout, 200*time.Millisecond, what, func() error {
		if !ok() {
			return errors.New("not yet")
		}
		return nil
	})
}

// checkFenced checks that node v was rebooted through its BMC after
// since (power off, then on), and that the cluster's fencing history
// says so.
func checkFenced(t *testing.T, c *nscluster.Cluster, v, observer int, since time.Time) {
	t.Helper()
	hist := exec(t, c, observer, "stonith_admin", "--history", nscluster.NodeName(v))
	if !regexp.MustCompile(`reboot of ` + nscluster.NodeName(v) + ` successful`).MatchString(hist) {
		t.Errorf("fencing history of %s has no successful reboot:\n%s", nscluster.NodeName(v), hist)
	}
	// At the first attempt: a failed one means a fencer could not
	// reach the BMC, or the agent failed.
	failed := regexp.MustCompile(`Operation '\w+' (\[\d+\] )?targeting ` + nscluster.NodeName(v) + ` using \S+ (returned [1-9]|could not be executed)`)
	for i := 1; i <= c.Nodes; i++ {
		for _, e := range c.Events(i, failed) {
			if !e.Time.Before(since.Truncate(time.Millisecond)) {
				t.Errorf("a fencing attempt failed: %s", e.Line)
			}
		}
	}
	var power []string
	for _, e := range c.Timeline(since) {
		if e.Node == "BMC "+nscluster.NodeName(v) {
			power = append(power, e.What)
		}
	}
	if len(power) < 2 || !strings.HasPrefix(power[0], "power off") || !strings.HasPrefix(power[len(power)-1], "power on") {
		t.Errorf("BMC of %s was not powered off and on again since the failure: %q", nscluster.NodeName(v), power)
	}
}

// Failover is scenario 1: the group fs + vm + vip runs on one node;
// that node crashes. It must be fenced through IPMI (off and on), and the
// group must start on a survivor, where the floating IP answers, the file
// written before the crash is on the shared disk, and the VM runs again.
func Failover(t *testing.T, env Env) {
	env.requireInstalled(t)
	img := guestimage.Tiny(t)
	c := env.start(t, true)
	must(t, c.Configure(nscluster.Services{Group: true, GroupVM: true, Guest: img}, logWriter{t}))
	v := locate(t, c, "vip")
	for _, r := range []string{"fs", "vm"} {
		if n := locate(t, c, r); n != v {
			t.Fatalf("%s on %s, vip on %s: the group is split", r, nscluster.NodeName(n), nscluster.NodeName(v))
		}
	}
	if n, err := c.VIPAnswerer(); err != nil || n != v {
		t.Fatalf("before the crash the floating IP answers from node%d (%v), want %s", n, err, nscluster.NodeName(v))
	}
	file := filepath.Join(c.SharedDir(), "before-crash")
	exec(t, c, v, "sh", "-c", "echo written on $(hostname) >"+file+" && sync")
	serial := c.VMSerial("vm")
	boots := strings.Count(readFile(serial), "BOOTED-OK")

	t0 := time.Now()
	must(t, c.Kill(v))
	obs := v%3 + 1
	n := waitLocated(t, c, "vip", v, 90*time.Second)
	started := waitEvent(t, c, n, nscluster.ResultRE("start", "vip", n, "ok"), t0, 30*time.Second)
	fenced := waitEvent(t, c, obs, regexp.MustCompile(`Operation 'reboot' targeting `+nscluster.NodeName(v)+` .*: OK`), t0, 30*time.Second)
	t.Logf("recovery: %s crashed; fenced %.2f s later; vip started on %s %.2f s after the crash",
		nscluster.NodeName(v), fenced.Time.Sub(t0).Seconds(), nscluster.NodeName(n), started.Time.Sub(t0).Seconds())
	var tl strings.Builder
	pcmk.PrintTimeline(&tl, t0, c.Timeline(t0))
	t.Logf("timeline from the crash:\n%s", tl.String())
	if started.Time.Before(fenced.Time) {
		t.Errorf("vip started on %s (%v) before %s was fenced (%v)", nscluster.NodeName(n), started.Time, nscluster.NodeName(v), fenced.Time)
	}
	checkFenced(t, c, v, obs, t0)
	must(t, c.WaitIdle(2*time.Minute))
	for _, r := range []string{"fs", "vm", "vip"} {
		if m := locate(t, c, r); m != n {
			t.Errorf("after the failover %s runs on %s, vip on %s", r, nscluster.NodeName(m), nscluster.NodeName(n))
		}
	}
	if a, err := c.VIPAnswerer(); err != nil || a != n {
		t.Errorf("after the failover the floating IP answers from node%d (%v), want %s", a, err, nscluster.NodeName(n))
	}
	if got := exec(t, c, n, "cat", file); got != "written on "+nscluster.NodeName(v)+"\n" {
		t.Errorf("the file written before the crash reads %q on %s", got, nscluster.NodeName(n))
	}
	if st := exec(t, c, n, "virsh", "-c", "qemu:///system", "domstate", "vm"); strings.TrimSpace(st) != "running" {
		t.Errorf("vm on %s: %s", nscluster.NodeName(n), st)
	}
	waitFor(t, 60*time.Second, "the VM booted again", func() bool { return strings.Count(readFile(serial), "BOOTED-OK") > boots })
	// The fenced node was powered on again and rejoins (Ready: every
	// node runs and is online).
	must(t, c.WaitReady(90*time.Second))
}

// LiveMigration is scenario 2: moving the VM is a live migration
// (migrate_to on the source, migrate_from on the target), and the guest
// keeps counting across it, without booting again.
func LiveMigration(t *testing.T, env Env) {
	env.requireInstalled(t)
	img := guestimage.Tiny(t)
	c := env.start(t, true)
	must(t, c.Configure(nscluster.Services{LiveVM: true, Guest: img}, logWriter{t}))
	from := locate(t, c, "vm-live")
	to := from%3 + 1
	serial := c.VMSerial("vm-live")
	waitFor(t, 60*time.Second, "the guest counting", func() bool { return guestimage.LastCounter(readFile(serial)) >= 2 })
	before := guestimage.LastCounter(readFile(serial))

	t0 := time.Now()
	exec(t, c, from, "crm_resource", "--move", "--resource", "vm-live", "--node", nscluster.NodeName(to))
	must(t, c.WaitIdle(2*time.Minute))
	if n := locate(t, c, "vm-live"); n != to {
		t.Fatalf("vm-live on %s after the move to %s", nscluster.NodeName(n), nscluster.NodeName(to))
	}
	mt := waitEvent(t, c, from, nscluster.ResultRE("migrate_to", "vm-live", from, "ok"), t0, 10*time.Second)
	mf := waitEvent(t, c, to, nscluster.ResultRE("migrate_from", "vm-live", to, "ok"), t0, 10*time.Second)
	if _, ok := c.FirstEvent(to, nscluster.ResultRE("start", "vm-live", to, "ok"), t0); ok {
		t.Errorf("vm-live was started on %s, not migrated", nscluster.NodeName(to))
	}
	t.Logf("live migration %s -> %s: migrate_to done %.2f s after the move, migrate_from %.2f s",
		nscluster.NodeName(from), nscluster.NodeName(to), mt.Time.Sub(t0).Seconds(), mf.Time.Sub(t0).Seconds())
	waitFor(t, 30*time.Second, "the guest counting on", func() bool { return guestimage.LastCounter(readFile(serial)) >= before+3 })
	out := readFile(serial)
	if n := strings.Count(out, "BOOTED-OK"); n != 1 {
		t.Errorf("the guest booted %d times; a live migration keeps it running", n)
	}
	// No count skipped back: the counter went on where it was.
	last := 0
	for _, line := range strings.Split(out, "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "COUNTER %d", &n); err == nil {
			if n != last+1 {
				t.Errorf("counter went from %d to %d", last, n)
			}
			last = n
		}
	}
	if st := exec(t, c, to, "virsh", "-c", "qemu:///system", "domstate", "vm-live"); strings.TrimSpace(st) != "running" {
		t.Errorf("vm-live on %s: %s", nscluster.NodeName(to), st)
	}
	if st, _ := c.Exec(from, 30*time.Second, "virsh", "-c", "qemu:///system", "list", "--name"); strings.Contains(st, "vm-live") {
		t.Errorf("vm-live still listed on %s: %s", nscluster.NodeName(from), st)
	}
	exec(t, c, to, "crm_resource", "--clear", "--resource", "vm-live")
}

// Partition is scenario 3: the node running the group is cut off.
// The minority loses quorum and stops what it ran; the majority fences
// it and takes the group. The fence devices wait 5 s (pcmk_delay_base)
// so that the minority's own stop can be seen before the power goes off.
func Partition(t *testing.T, env Env) {
	env.requireInstalled(t)
	c := env.start(t, false)
	must(t, c.Configure(nscluster.Services{Group: true, FenceDelay: "5s"}, logWriter{t}))
	v := locate(t, c, "vip")
	obs := v%3 + 1

	t0 := time.Now()
	must(t, c.Cut(v))
	lost := waitEvent(t, c, v, regexp.MustCompile(`[Qq]uorum lost|partition WITHOUT quorum`), t0, 30*time.Second)
	stopVIP := waitEvent(t, c, v, nscluster.ResultRE("stop", "vip", v, "ok"), t0, 30*time.Second)
	stopFS := waitEvent(t, c, v, nscluster.ResultRE("stop", "fs", v, "ok"), t0, 30*time.Second)
	n := waitLocated(t, c, "vip", v, 90*time.Second)
	started := waitEvent(t, c, n, nscluster.ResultRE("start", "vip", n, "ok"), t0, 30*time.Second)
	fenced := waitEvent(t, c, obs, regexp.MustCompile(`Operation 'reboot' targeting `+nscluster.NodeName(v)+` .*: OK`), t0, 60*time.Second)
	t.Logf("partition: %s lost quorum %.2f s after the cut, stopped fs %.2f s; fenced %.2f s; vip on %s %.2f s",
		nscluster.NodeName(v), lost.Time.Sub(t0).Seconds(), stopFS.Time.Sub(t0).Seconds(), fenced.Time.Sub(t0).Seconds(),
		nscluster.NodeName(n), started.Time.Sub(t0).Seconds())
	if !stopVIP.Time.Before(fenced.Time) {
		t.Errorf("the minority did not stop vip before it was fenced")
	}
	if started.Time.Before(fenced.Time) {
		t.Errorf("vip started on %s before %s was fenced", nscluster.NodeName(n), nscluster.NodeName(v))
	}
	checkFenced(t, c, v, obs, t0)
	if a, err := c.VIPAnswerer(); err != nil || a != n {
		t.Errorf("the floating IP answers from node%d (%v), want %s", a, err, nscluster.NodeName(n))
	}
	// Powered on again, the node gets a new cable and rejoins.
	must(t, c.WaitReady(90*time.Second))
}

// FailedStop is scenario 4: the filesystem cannot be unmounted (a
// process holds it and force_unmount=false), so its stop fails when its
// timeout (15 s here) runs out; Pacemaker fences the node and recovers
// the group elsewhere.
func FailedStop(t *testing.T, env Env) {
	env.requireInstalled(t)
	c := env.start(t, false)
	must(t, c.Configure(nscluster.Services{Group: true, FsOptions: []string{"force_unmount=false"}, FsStopTimeout: "15s"}, logWriter{t}))
	v := locate(t, c, "fs")
	exec(t, c, v, "sh", "-c", "echo kept >"+filepath.Join(c.SharedDir(), "data")+" && sync")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holder, err := c.Command(ctx, v, "sh", "-c", "cd "+c.SharedDir()+" && exec sleep 600")
	must(t, err)
	must(t, holder.Start())
	go func() { _ = holder.Wait() }()
	waitFor(t, time.Minute, "the holder in the mount", func() bool {
		out, _ := c.Exec(v, 10*time.Second, "sh", "-c", "ls -l /proc/[0-9]*/cwd 2>/dev/null")
		return strings.Contains(out, c.SharedDir())
	})
	to := v%3 + 1
	obs := to

	t0 := time.Now()
	exec(t, c, obs, "crm_resource", "--move", "--resource", "svc", "--node", nscluster.NodeName(to))
	failed := waitEvent(t, c, v, nscluster.ResultRE("stop", "fs", v, "error"), t0, 60*time.Second)
	fenced := waitEvent(t, c, obs, regexp.MustCompile(`Operation 'reboot' targeting `+nscluster.NodeName(v)+` .*: OK`), t0, 60*time.Second)
	n := waitLocated(t, c, "fs", v, 60*time.Second)
	if n != to {
		t.Errorf("fs recovered on %s, moved to %s", nscluster.NodeName(n), nscluster.NodeName(to))
	}
	t.Logf("failed stop: %s; fenced %.2f s after the move", strings.TrimSpace(failed.Line[strings.Index(failed.Line, "Result"):]),
		fenced.Time.Sub(t0).Seconds())
	checkFenced(t, c, v, obs, t0)
	must(t, c.WaitIdle(2*time.Minute))
	if got := exec(t, c, n, "cat", filepath.Join(c.SharedDir(), "data")); got != "kept\n" {
		t.Errorf("data on %s: %q", nscluster.NodeName(n), got)
	}
	exec(t, c, obs, "crm_resource", "--clear", "--resource", "svc")
}

func readFile(p string) string {
	data, _ := os.ReadFile(p)
	return string(data)
}

// logWriter shows Configure's pcs commands in the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
