package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// clusterSpec is the cluster of both sides, the one of the cluster tier.
func clusterSpec() nscluster.Spec { return nscluster.FailoverSpec(true) }

// clusterPrograms are what the cluster scenario needs on this machine.
var clusterPrograms = []string{"corosync", "pacemakerd", "pcs", "crm_mon", "crm_resource", "cibadmin",
	"arping", "busybox", "ipmi_sim", "ipmitool", "libvirtd", "virsh", "qemu-system-x86_64"}

// failoverTrial is one crash of the node running the group, in times
// after the kill.
type failoverTrial struct {
	victim, to int
	// lost: the observer's membership lost the victim; requested: the
	// DC asked for its fencing; fenced: the reboot through its BMC
	// completed; fs, vm, vip: their starts on the new node returned ok
	// (vip, the last of the group: the recovery).
	lost, requested, fenced, fs, vm, vip time.Duration
	victimDC                             bool // the node killed was the DC
	failedAttempts                       int  // fencing attempts that returned non-zero
}

// clusterFigures are both sides' trials (0 stock, 1 paceline).
type clusterFigures struct {
	trials [2][]failoverTrial
	setup  [2]time.Duration // cluster start and configuration
	took   time.Duration    // the whole scenario
}

// cluster measures the failover of a real 3-node cluster (tests/nscluster)
// running group fs + vm + vip and a fence device per node: first with the
// stock agents, then with paceline's, a fresh cluster for each.
func (b *bench) cluster() error {
	fmt.Fprintf(b.log, "  cluster failover, %d trials per side\n", b.o.clusterTrials)
	if b.o.clusterTrials < 1 {
		return fmt.Errorf("cluster: -cluster-trials %d", b.o.clusterTrials)
	}
	if err := harness.CheckInstalled(b.o.bin); err != nil {
		return err
	}
	start := time.Now()
	f := &clusterFigures{}
	for k, im := range b.impls {
		err := b.withTB("cluster "+im.name, func(t *benchTB) error { return b.clusterSide(t, k, f) })
		if err != nil {
			return err
		}
	}
	f.took = time.Since(start)
	b.clusterFig = f
	return nil
}

// clusterSide starts a cluster, configures it with side k's agents and
// runs the trials.
func (b *bench) clusterSide(t *benchTB, k int, f *clusterFigures) error {
	name := b.impls[k].name
	img := guestimage.Tiny(t)
	start := time.Now()
	c := nscluster.Start(t, clusterSpec())
	if err := c.Configure(nscluster.Services{Stock: k == 0, Group: true, GroupVM: true, Guest: img}, b.log); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	f.setup[k] = time.Since(start)
	fmt.Fprintf(b.log, "    %s: cluster up and configured in %.1f s\n", name, f.setup[k].Seconds())
	for i := 0; i < b.o.clusterTrials; i++ {
		tr, err := b.failover(c)
		if err != nil {
			t.Logf("%s trial %d: %v\ncluster state:\n%s", name, i+1, err, c.LogTail(30))
			return fmt.Errorf("%s trial %d: %v", name, i+1, err)
		}
		dc := ""
		if tr.victimDC {
			dc = " (the DC)"
		}
		fmt.Fprintf(b.log, "    %s trial %d: node%d%s killed; lost %.2f s, fencing requested %.2f s, fenced %.2f s, fs %.2f s, vm %.2f s, vip %.2f s on node%d\n",
			name, i+1, tr.victim, dc, tr.lost.Seconds(), tr.requested.Seconds(), tr.fenced.Seconds(), tr.fs.Seconds(), tr.vm.Seconds(), tr.vip.Seconds(), tr.to)
		f.trials[k] = append(f.trials[k], tr)
	}
	return nil
}

// failover crashes the node running the group and measures, from the
// nodes' logs, when it was fenced and when the group ran again
// elsewhere, as TestFailover (tests/cluster) does; then it waits until
// the fenced node is back and the cluster idle.
func (b *bench) failover(c *nscluster.Cluster) (failoverTrial, error) {
	var tr failoverTrial
	v, err := c.LocateOne("vip")
	if err != nil {
		return tr, err
	}
	for _, r := range []string{"fs", "vm"} {
		if n, err := c.LocateOne(r); err != nil || n != v {
			return tr, fmt.Errorf("%s on node%d (%v), vip on node%d: the group is split", r, n, err, v)
		}
	}
	serial := c.VMSerial("vm")
	boots := strings.Count(readFile(serial), "BOOTED-OK")
	tr.victim = v
	obs := v%c.Nodes + 1

	t0 := time.Now()
	if err := c.Kill(v); err != nil {
		return tr, err
	}
	n, err := c.WaitLocated("vip", v, 90*time.Second)
	if err != nil {
		return tr, err
	}
	tr.to = n
	var survivors []int
	for i := 1; i <= c.Nodes; i++ {
		if i != v {
			survivors = append(survivors, i)
		}
	}
	victim := nscluster.NodeName(v)
	for _, m := range []struct {
		d     *time.Duration
		nodes []int
		re    *regexp.Regexp
	}{
		{&tr.lost, []int{obs}, regexp.MustCompile(`Node ` + victim + ` state is now lost`)},
		// Logged by the DC only, whichever survivor that is.
		{&tr.requested, survivors, regexp.MustCompile(`Requesting fencing \(reboot\) of node ` + victim)},
		{&tr.fenced, []int{obs}, regexp.MustCompile(`Operation 'reboot' targeting ` + victim + ` .*: OK`)},
		{&tr.fs, []int{n}, nscluster.ResultRE("start", "fs", n, "ok")},
		{&tr.vm, []int{n}, nscluster.ResultRE("start", "vm", n, "ok")},
		{&tr.vip, []int{n}, nscluster.ResultRE("start", "vip", n, "ok")},
	} {
		e, err := c.WaitEvent(m.nodes, m.re, t0, 30*time.Second)
		if err != nil {
			return tr, err
		}
		*m.d = e.Time.Sub(t0)
	}
	_, tr.victimDC = c.FirstEvent(obs, regexp.MustCompile(`Our peer on the DC \(`+victim+`\) is dead`), t0)
	if tr.vip < tr.fenced {
		return tr, fmt.Errorf("vip started on node%d %.2f s after the crash, before node%d was fenced (%.2f s)",
			n, tr.vip.Seconds(), v, tr.fenced.Seconds())
	}
	failed := regexp.MustCompile(`Operation '\w+' \[\d+\] targeting ` + victim + ` using \S+ returned [1-9]`)
	for i := 1; i <= c.Nodes; i++ {
		for _, e := range c.Events(i, failed) {
			if !e.Time.Before(t0.Truncate(time.Millisecond)) {
				tr.failedAttempts++
				fmt.Fprintf(b.log, "    a fencing attempt failed: %s\n", e.Line)
			}
		}
	}
	// The guest boots again on the new node (TCG: several seconds of
	// CPU, kept out of the next trial), the fenced node comes back.
	if err := proc.Until(90*time.Second, 200*time.Millisecond, func() error {
		if n := strings.Count(readFile(serial), "BOOTED-OK"); n <= boots {
			return fmt.Errorf("the VM booted %d times, %d before the crash", n, boots)
		}
		return nil
	}); err != nil {
		return tr, err
	}
	if err := c.WaitReady(90 * time.Second); err != nil {
		return tr, fmt.Errorf("after the failover: %v", err)
	}
	if err := c.WaitIdle(2 * time.Minute); err != nil {
		return tr, err
	}
	for _, r := range []string{"fs", "vm", "vip"} {
		if m, err := c.LocateOne(r); err != nil || m != n {
			return tr, fmt.Errorf("after the failover %s runs on node%d (%v), vip on node%d", r, m, err, n)
		}
	}
	pcmk.PrintTimeline(b.log, t0, c.Timeline(t0))
	return tr, nil
}

func readFile(p string) string {
	data, _ := os.ReadFile(p)
	return string(data)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func medianOf(d []time.Duration) time.Duration {
	return median(toSamples(d), func(s sample) time.Duration { return s.wall })
}

// clusterReport writes the failover section: per step, both sides'
// median and every trial, with the ratio paceline / stock.
func (b *bench) clusterReport(w *strings.Builder) {
	f := b.clusterFig
	if f == nil {
		return
	}
	spec := clusterSpec()
	fmt.Fprintf(w, "\n## Cluster failover (3 nodes, kill -9 of the node running the group)\n\n")
	fmt.Fprintf(w, "A real cluster of three nodes on this machine, Corosync %s and Pacemaker %s\n",
		pkgVersion("corosync"), pkgVersion("pacemaker"))
	fmt.Fprintf(w, "(tests/nscluster: each node in namespaces of its own with corosync, pacemaker and libvirtd; a\n")
	fmt.Fprintf(w, "simulated IPMI BMC per node whose power-off kills the node and whose power-on boots it again %v\n", spec.BootDelay)
	fmt.Fprintf(w, "later; totem token %d ms), configured with pcs the same way for both sides: a fence device per\n", spec.TokenMS)
	fmt.Fprintf(w, "node (`fence_ipmilan` / `fence_paceline_ipmilan`, lanplus, cipher 3, default power_wait), and\n")
	fmt.Fprintf(w, "group `svc` = Filesystem `fs` (ext4 on a shared loop disk) + VirtualDomain `vm` (a small TCG\n")
	fmt.Fprintf(w, "guest) + IPaddr2 `vip`, `ocf:heartbeat:*` / `ocf:paceline:*` with the same parameters; a start\n")
	fmt.Fprintf(w, "is the agent's start returning ok (for vm: the domain running, not the guest booted). One fresh\n")
	fmt.Fprintf(w, "cluster per side, stock first, %d trials each: kill -9 of the PID 1 of the node running the group\n", len(f.trials[0]))
	fmt.Fprintf(w, "(a crash) at t0; the survivors fence it over IPMI (reboot) and start the group on another node.\n")
	fmt.Fprintf(w, "Times are taken from the nodes' pacemaker.log (millisecond stamps): membership lost and fencing\n")
	fmt.Fprintf(w, "completed (`Operation 'reboot' targeting ...: OK`) as a survivor logs them, the DC's\n")
	fmt.Fprintf(w, "`Requesting fencing`, and each resource's `Result of start operation ...: ok` on the new node; the\n")
	fmt.Fprintf(w, "recovery is vip's, the last of the group. Between trials the guest boots again and the fenced node\n")
	fmt.Fprintf(w, "rejoins, until the cluster is idle. Ratio = paceline / stock (informational, no target).\n\n")
	type step struct {
		name string
		get  func(failoverTrial) time.Duration
	}
	table := func(head string, steps []step) {
		fmt.Fprintf(w, "| %s | stock median | paceline median | ratio | stock, each trial | paceline, each trial |\n", head)
		fmt.Fprintf(w, "|---|---:|---:|---:|---|---|\n")
		for _, s := range steps {
			var v [2][]time.Duration
			var all [2]string
			for k := range f.trials {
				var each []string
				for _, tr := range f.trials[k] {
					v[k] = append(v[k], s.get(tr))
					each = append(each, secs(s.get(tr)))
				}
				all[k] = strings.Join(each, ", ")
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", s.name, secs(medianOf(v[0])), secs(medianOf(v[1])),
				ratio(medianOf(v[1]), medianOf(v[0])), all[0], all[1])
		}
		fmt.Fprintf(w, "\n")
	}
	table("seconds after the kill", []step{
		{"membership lost", func(t failoverTrial) time.Duration { return t.lost }},
		{"fencing requested", func(t failoverTrial) time.Duration { return t.requested }},
		{"fenced (reboot OK)", func(t failoverTrial) time.Duration { return t.fenced }},
		{"fs started", func(t failoverTrial) time.Duration { return t.fs }},
		{"vm started", func(t failoverTrial) time.Duration { return t.vm }},
		{"**vip started: recovery**", func(t failoverTrial) time.Duration { return t.vip }},
	})
	table("seconds, from - to", []step{
		{"fencing: requested - reboot OK", func(t failoverTrial) time.Duration { return t.fenced - t.requested }},
		{"group start: reboot OK - vip started", func(t failoverTrial) time.Duration { return t.vip - t.fenced }},
		{"**agents' part: fencing requested - vip started**", func(t failoverTrial) time.Duration { return t.vip - t.requested }},
	})
	var failed, dc, slow [2]int
	for k := range f.trials {
		for _, tr := range f.trials[k] {
			failed[k] += tr.failedAttempts
			if tr.victimDC {
				dc[k]++
			}
			if tr.requested-tr.lost > 500*time.Millisecond {
				slow[k]++
			}
		}
	}
	n := [2]int{len(f.trials[0]), len(f.trials[1])}
	fmt.Fprintf(w, "From the membership loss to the fencing request Pacemaker takes about 0.05 s or about 1 s,\n")
	fmt.Fprintf(w, "whatever the agents: the DC's controller sleeps 1 s before asking the CIB again when peer updates\n")
	fmt.Fprintf(w, "are still pending as it calls the scheduler (`do_pe_invoke_callback`), and when the node killed\n")
	fmt.Fprintf(w, "was the DC the survivors elect a new one first. Over 0.5 s: stock %d of %d trials, paceline %d of\n",
		slow[0], n[0], slow[1])
	fmt.Fprintf(w, "%d (the node killed was the DC in %d and %d trials). That second lands in the recovery time as it\n",
		n[1], dc[0], dc[1])
	fmt.Fprintf(w, "happens; the second table, from the fencing request on, is where the agents run (the fence agent,\n")
	fmt.Fprintf(w, "then each resource agent's start, with Pacemaker's own steps between them). Fencing attempts that\n")
	fmt.Fprintf(w, "failed (each adds a retry): stock %d, paceline %d. Cluster start and configuration: stock %.0f s,\n",
		failed[0], failed[1], f.setup[0].Seconds())
	fmt.Fprintf(w, "paceline %.0f s; the whole scenario took %.0f s.\n\n", f.setup[1].Seconds(), f.took.Seconds())
}

// pkgVersion is the Debian package's version, or "?".
func pkgVersion(pkg string) string {
	out, err := runOutput("dpkg-query", "-W", "-f=${Version}", pkg)
	if err != nil || out == "" {
		return "?"
	}
	return out
}

func runOutput(name string, args ...string) (string, error) {
	out, err := proc.Output(context.Background(), name, args...)
	return strings.TrimSpace(out), err
}
