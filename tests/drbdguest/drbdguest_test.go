//go:build system

// Package drbdguest_test checks the harness of two qemu TCG guests with
// real DRBD 8.4 between them (tests/drbdlab): its control
// channel, a failover with data, a rejoin with resync and a link cut.
// capture_test.go uses the same harness to record real DRBD output for
// the parsers of pkg/drbd.
package drbdguest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestSmoke(t *testing.T) {
	start := time.Now()
	step := func(what string) {
		t.Logf("--- %s done at %v", what, time.Since(start).Round(10*time.Millisecond))
	}
	p := drbdlab.StartPair(t, drbdlab.PairSpec{})
	a, b := p.A, p.B
	step("boot")

	t.Run("control channel", func(t *testing.T) { checkChannel(t, a) })
	step("control channel")

	for _, g := range p.Guests() {
		out := g.MustExec(t, "hostname; ip -4 -o addr show eth0; cat /proc/drbd; blockdev --getsize64 /dev/vda")
		for _, want := range []string{g.Name() + "\n", "inet " + g.IP() + "/24", "version: 8.4.", "\n67108864\n"} {
			if !strings.Contains(out, want) {
				t.Fatalf("%s: %q not in:\n%s", g.Name(), want, out)
			}
		}
	}

	p.UpConnected(t, "r0")
	for _, g := range p.Guests() {
		if got := state(t, g); got != "Secondary/Secondary Connected UpToDate/UpToDate" {
			t.Fatalf("%s after UpConnected: %s", g.Name(), got)
		}
	}
	step("create-md, up, connected")

	a.MustExec(t, "drbdadm primary r0")
	sum := a.MustExec(t, `set -e
mkfs.ext4 -q -F /dev/drbd0
mkdir -p /mnt/r0
mount /dev/drbd0 /mnt/r0
head -c 8M /dev/urandom > /mnt/r0/blob
sync
md5sum /mnt/r0/blob`)
	if len(strings.Fields(sum)) != 2 {
		t.Fatalf("md5sum: %q", sum)
	}
	step("promote a, mkfs, write 8 MiB")

	a.Kill(t)
	b.WaitFor(t, 30*time.Second, `[ "$(drbdadm cstate r0)" = WFConnection ]`)
	b.MustExec(t, "drbdadm primary r0")
	got := b.MustExec(t, "mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && md5sum /mnt/r0/blob")
	if got != sum {
		t.Fatalf("data on b after failover: %q, written on a: %q", got, sum)
	}
	if got := state(t, b); got != "Primary/Unknown WFConnection UpToDate/DUnknown" {
		t.Fatalf("b after failover: %s", got)
	}
	step("kill a, promote b, same data")

	a.Start(t)
	if out := a.MustExec(t, "cat /etc/drbd.d/r0.res; cat /proc/drbd"); !strings.Contains(out, "resource r0") ||
		strings.Contains(out, " 0: cs:") {
		t.Fatalf("a after reboot: resource file missing or r0 already up:\n%s", out)
	}
	a.MustExec(t, "drbdadm up r0")
	a.WaitFor(t, 60*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)
	if got := state(t, a); got != "Secondary/Primary Connected UpToDate/UpToDate" {
		t.Fatalf("a after rejoin: %s", got)
	}
	step("restart a, rejoin, resync")

	p.CutLink(t)
	for _, g := range p.Guests() {
		g.WaitFor(t, 20*time.Second, `[ "$(drbdadm cstate r0)" = WFConnection ]`)
	}
	if got := state(t, a); got != "Secondary/Unknown WFConnection UpToDate/DUnknown" {
		t.Fatalf("a with the link cut: %s", got)
	}
	p.HealLink(t)
	for _, g := range p.Guests() {
		g.WaitFor(t, 30*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)
	}
	step("cut and heal the link")

	b.Stop(t)
	if b.Running() {
		t.Fatal("b still running after Stop")
	}
	// A clean "drbdadm down" on b: a learns at once, no ping timeout.
	a.WaitFor(t, 10*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = WFConnection/UpToDate/DUnknown ]`)
	step("clean stop of b")
}

// state is "role cstate dstate" of r0.
func state(t *testing.T, g *drbdlab.Guest) string {
	t.Helper()
	out, _ := g.Run(t, 30*time.Second, "echo $(drbdadm role r0) $(drbdadm cstate r0) $(drbdadm dstate r0) 2>&1")
	return strings.TrimSpace(out)
}

// checkChannel checks exit codes, exact output, large output, timeouts
// (the guest survives and kills the command's children) and concurrent
// commands.
func checkChannel(t *testing.T, g *drbdlab.Guest) {
	ctx := context.Background()
	out, rc, err := g.Exec(ctx, "printf 'a b\\n\\n'; echo err >&2; exit 3")
	if err != nil || rc != 3 || out != "a b\n\nerr\n" {
		t.Fatalf("Exec: %q rc %d err %v", out, rc, err)
	}
	begin := time.Now()
	for i := 0; i < 5; i++ {
		g.MustExec(t, ":")
	}
	t.Logf("a trivial command: %v", (time.Since(begin) / 5).Round(time.Millisecond))

	begin = time.Now()
	out = g.MustExec(t, "head -c 3000000 /dev/zero | tr '\\0' x")
	if len(out) != 3000000 || strings.Trim(out, "x") != "" {
		t.Fatalf("3 MB output: got %d bytes", len(out))
	}
	t.Logf("3 MB of output: %v", time.Since(begin).Round(time.Millisecond))

	// A command that outlives its deadline is killed there, the child
	// holding its output included: had that one survived, Exec would wait
	// for its 300 s. Half of them tells the two apart under any load.
	tctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	begin = time.Now()
	out, rc, err = g.Exec(tctx, "echo started; sleep 300 & sleep 301; echo never")
	cancel()
	if !errors.Is(err, drbdlab.ErrTimeout) || out != "started\n" {
		t.Fatalf("hanging command: %q rc %d err %v", out, rc, err)
	}
	if d := time.Since(begin); d >= 150*time.Second {
		t.Fatalf("hanging command returned after %v: its children were not killed at the deadline", d)
	}
	if out := g.MustExec(t, "ps -eo args | grep -c '^sleep 30[01]$' || true"); strings.TrimSpace(out) != "0" {
		t.Fatalf("the hanging command's processes survive: %s", out)
	}

	// Concurrent commands: the slow one runs until the quick one lets it
	// end, so the quick one can only answer while the slow one runs. Both
	// wait for each other's files, not for a fixed time: on a loaded
	// machine the slow one may take a while to start.
	g.MustExec(t, "rm -f /run/slow-started /run/slow-go")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		out, rc, err := g.Exec(ctx, "touch /run/slow-started; while [ ! -e /run/slow-go ]; do sleep 0.1; done; echo slow")
		if out != "slow\n" || rc != 0 || err != nil {
			t.Errorf("slow: %q rc %d err %v (a quick command must run beside it and let it end)", out, rc, err)
		}
	}()
	g.WaitFor(t, time.Minute, "[ -e /run/slow-started ]")
	if out := g.MustExec(t, "echo fast; touch /run/slow-go"); out != "fast\n" {
		t.Errorf("fast: %q", out)
	}
	wg.Wait()
}
