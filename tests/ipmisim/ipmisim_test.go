//go:build system

// Smoke tests of the IPMI harness (tests/ipmi: StartBMC, StartFencer)
// with the stock tools only: ipmitool, fence-agents' fence_ipmilan and a
// stand-alone pacemaker-fenced. They prove that the simulated BMCs and
// the fencer behave as the fence agent tests expect them to.
package ipmisim_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/ipmi"
	"github.com/paceline-ha/paceline/tests/proc"
)

const stockAgent = "/usr/sbin/fence_ipmilan"

func requireStockAgent(t *testing.T) {
	t.Helper()
	_, err := os.Stat(stockAgent)
	h.Require(t, err == nil, "needs %s (fence-agents)", stockAgent)
}

// fenceIpmilan runs the stock agent as the fencer does: parameters on
// stdin, none on the command line. wrap runs it elsewhere (nil: here).
func fenceIpmilan(t *testing.T, wrap []string, params map[string]string, action string) (string, int) {
	t.Helper()
	in := ipmi.FenceStdin(params) + "action=" + action + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append(append([]string(nil), wrap...), stockAgent)
	cmd := proc.Command(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(in)
	cmd.Env = append(os.Environ(), "PYTHONWARNINGS=ignore")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("fence_ipmilan %s: timed out\n%s", action, out.String())
	}
	code, exited := proc.ExitCode(err)
	if !exited {
		t.Fatalf("fence_ipmilan %s: %v", action, err)
	}
	return out.String(), code
}

// ipmitool runs b.Ipmitool and fails the test when it fails.
func ipmitool(t *testing.T, b *ipmi.BMC, args ...string) string {
	t.Helper()
	out, err := b.Ipmitool(args...)
	if err != nil {
		t.Fatalf("ipmitool %s: %v\n%s\n%s", strings.Join(args, " "), err, out, b.LogTail())
	}
	return out
}

// expectPower fails the test unless the BMC's power is on.
func expectPower(t *testing.T, b *ipmi.BMC, on bool) {
	t.Helper()
	if b.Power() != on {
		t.Fatalf("power on = %v, want %v; events %q", b.Power(), on, b.Events())
	}
}

// newEvents returns the events after the first n.
func newEvents(b *ipmi.BMC, n int) []string {
	ev := b.Events()
	if n > len(ev) {
		return nil
	}
	return ev[n:]
}

// eventsAre fails the test unless the events are the "set ..." calls
// given (timestamps ignored).
func eventsAre(t *testing.T, got []string, want ...string) {
	t.Helper()
	var calls []string
	for _, e := range got {
		_, call, _ := strings.Cut(e, " ")
		calls = append(calls, call)
	}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// powerOnWait bounds the wait for the power-on that ipmi_sim's timer
// makes about 1 s after a cycle: only a BMC that never powers on takes
// this long.
const powerOnWait = 30 * time.Second

func TestBMC(t *testing.T) {
	t.Parallel()
	requireStockAgent(t)
	viewer := ipmi.User{Name: "viewer", Password: "viewpw", Priv: "user"}
	oper := ipmi.User{Name: "oper", Password: "operpw", Priv: "operator"}
	start := time.Now()
	b := ipmi.StartBMC(t, ipmi.BMCSpec{Users: []ipmi.User{
		{Name: ipmi.DefaultUser, Password: ipmi.DefaultPassword, Priv: "admin"}, viewer, oper,
	}})
	t.Logf("BMC ready on %s:%d in %v", b.Addr, b.Port, time.Since(start).Round(time.Millisecond))
	params := b.FenceParams()

	t.Run("ipmitool", func(t *testing.T) {
		if out := ipmitool(t, b, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is on") {
			t.Fatalf("status: %q", out)
		}
		expectPower(t, b, true)
		n := len(b.Events())
		ipmitool(t, b, "chassis", "power", "off")
		expectPower(t, b, false)
		if out := ipmitool(t, b, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is off") {
			t.Fatalf("status: %q", out)
		}
		ipmitool(t, b, "chassis", "power", "on")
		expectPower(t, b, true)
		eventsAre(t, newEvents(b, n), "set power 0", "set power 1")

		// cycle: off at once, on about 1 s later: ipmi_sim's timer is
		// the lower bound; how much later than that depends on the
		// machine's load, and the wait only ends one that never comes.
		n = len(b.Events())
		ipmitool(t, b, "chassis", "power", "cycle")
		b.WaitPower(t, true, powerOnWait)
		eventsAre(t, newEvents(b, n), "set power 0", "set power 1")
		pe := b.PowerEvents()
		gap := pe[len(pe)-1].At.Sub(pe[len(pe)-2].At)
		if gap < 500*time.Millisecond {
			t.Fatalf("cycle: on %v after off, want about 1 s", gap)
		}
		t.Logf("cycle: on %v after off", gap.Round(time.Millisecond))

		// A cycle of a powered-off BMC powers it on.
		b.SetPower(t, false)
		n = len(b.Events())
		ipmitool(t, b, "chassis", "power", "cycle")
		b.WaitPower(t, true, powerOnWait)
		eventsAre(t, newEvents(b, n), "set power 0", "set power 1")

		// reset: only "set reset 1", the power stays.
		n = len(b.Events())
		ipmitool(t, b, "chassis", "power", "reset")
		eventsAre(t, newEvents(b, n), "set reset 1")
		expectPower(t, b, true)

		// diag: refused, nothing called.
		out, err := b.Ipmitool("chassis", "power", "diag")
		if err == nil || !strings.Contains(out, "Invalid data field") {
			t.Fatalf("diag: err %v, output %q; want a refusal (invalid data field)", err, out)
		}
		eventsAre(t, newEvents(b, n), "set reset 1")
		expectPower(t, b, true)
	})

	t.Run("fence_ipmilan", func(t *testing.T) {
		if out, rc := fenceIpmilan(t, nil, params, "status"); rc != 0 || !strings.Contains(out, "Status: ON") {
			t.Fatalf("status: rc %d\n%s", rc, out)
		}
		n := len(b.Events())
		st := time.Now()
		if out, rc := fenceIpmilan(t, nil, params, "off"); rc != 0 {
			t.Fatalf("off: rc %d\n%s", rc, out)
		}
		t.Logf("off in %v", time.Since(st).Round(time.Millisecond))
		expectPower(t, b, false)
		if out, rc := fenceIpmilan(t, nil, params, "status"); rc != 2 || !strings.Contains(out, "Status: OFF") {
			t.Fatalf("status when off: rc %d, want 2\n%s", rc, out)
		}
		st = time.Now()
		if out, rc := fenceIpmilan(t, nil, params, "on"); rc != 0 {
			t.Fatalf("on: rc %d\n%s", rc, out)
		}
		t.Logf("on in %v", time.Since(st).Round(time.Millisecond))
		expectPower(t, b, true)
		eventsAre(t, newEvents(b, n), "set power 0", "set power 1")
	})

	t.Run("wrong password", func(t *testing.T) {
		bad := ipmi.User{Name: ipmi.DefaultUser, Password: "wrong"}
		if out, err := b.IpmitoolAs(bad, "", "-N", "1", "-R", "1", "chassis", "power", "status"); err == nil {
			t.Fatalf("a wrong password got in:\n%s", out)
		}
		if out, rc := fenceIpmilan(t, nil, ipmi.With(params, "password", "wrong"), "status"); rc != 1 {
			t.Fatalf("fence_ipmilan with a wrong password: rc %d, want 1\n%s", rc, out)
		}
	})

	t.Run("privileges", func(t *testing.T) {
		n := len(b.Events())
		// A user-privilege session may look but not switch.
		if out, err := b.IpmitoolAs(viewer, "", "-L", "USER", "chassis", "power", "status"); err != nil {
			t.Fatalf("user-privilege status: %v\n%s", err, out)
		}
		out, err := b.IpmitoolAs(viewer, "", "-L", "USER", "chassis", "power", "off")
		if err == nil || !strings.Contains(out, "Insufficient privilege") {
			t.Fatalf("user-privilege power off: err %v, output %q; want insufficient privilege", err, out)
		}
		// fence_ipmilan ignores the refusal and waits power_timeout
		// (20 s) for the power to go off: 3 s will do.
		st := time.Now()
		if out, rc := fenceIpmilan(t, nil, ipmi.With(params, "username", viewer.Name, "password", viewer.Password,
			"privlvl", "user", "power_timeout", "3"), "off"); rc != 1 {
			t.Fatalf("fence_ipmilan off as a user-privilege account: rc %d, want 1\n%s", rc, out)
		}
		t.Logf("fence_ipmilan off as a user-privilege account failed after %v", time.Since(st).Round(time.Millisecond))
		expectPower(t, b, true)
		eventsAre(t, newEvents(b, n))

		// An operator may.
		op := ipmi.With(params, "username", oper.Name, "password", oper.Password, "privlvl", "operator")
		if out, rc := fenceIpmilan(t, nil, op, "off"); rc != 0 {
			t.Fatalf("fence_ipmilan off as operator: rc %d\n%s", rc, out)
		}
		expectPower(t, b, false)
		if out, err := b.IpmitoolAs(oper, "", "-L", "OPERATOR", "chassis", "power", "on"); err != nil {
			t.Fatalf("operator power on: %v\n%s", err, out)
		}
		expectPower(t, b, true)
		eventsAre(t, newEvents(b, n), "set power 0", "set power 1")
	})

	t.Run("kg", func(t *testing.T) {
		k := ipmi.StartBMC(t, ipmi.BMCSpec{Name: "kgbmc", Kg: "kgsecret"})
		if out := ipmitool(t, k, "chassis", "power", "status"); !strings.Contains(out, "Chassis Power is on") {
			t.Fatalf("status with the key: %q", out)
		}
		if out, err := k.IpmitoolAs(k.Admin(), "", "-N", "1", "-R", "1", "chassis", "power", "status"); err == nil {
			t.Fatalf("no key, yet a session:\n%s", out)
		}
		kp := k.FenceParams()
		if kp["hexadecimal_kg"] != "6b67736563726574" {
			t.Fatalf("hexadecimal_kg %q", kp["hexadecimal_kg"])
		}
		if out, rc := fenceIpmilan(t, nil, kp, "status"); rc != 0 {
			t.Fatalf("fence_ipmilan status with hexadecimal_kg: rc %d\n%s", rc, out)
		}
		delete(kp, "hexadecimal_kg")
		if out, rc := fenceIpmilan(t, nil, kp, "status"); rc != 1 {
			t.Fatalf("fence_ipmilan status without the key: rc %d, want 1\n%s", rc, out)
		}
	})

	t.Run("power hook", func(t *testing.T) {
		seen := filepath.Join(t.TempDir(), "hook")
		hb := ipmi.StartBMC(t, ipmi.BMCSpec{Name: "hooked", PowerHook: []string{"sh", "-c", `echo "$1" >>"$0"`, seen}})
		ipmitool(t, hb, "chassis", "power", "off")
		ipmitool(t, hb, "chassis", "power", "on")
		hb.SetPower(t, false) // behind the BMC's back: no hook
		if data, _ := os.ReadFile(seen); string(data) != "0\n1\n" {
			t.Fatalf("hook calls %q, want 0 then 1", data)
		}
		expectPower(t, hb, false)
		eventsAre(t, hb.Events(), "set power 0", "set power 1")
	})

	t.Run("files", func(t *testing.T) {
		for path, want := range map[string]os.FileMode{b.Dir: 0o700 | os.ModeDir, filepath.Join(b.Dir, "lan.conf"): 0o600} {
			st, err := os.Stat(path)
			if err != nil || st.Mode() != want {
				t.Fatalf("%s: mode %v (%v), want %v", path, st.Mode(), err, want)
			}
		}
	})

	t.Run("frozen", func(t *testing.T) {
		b.Freeze(t)
		st := time.Now()
		// -R 1, not 0: ipmitool takes -R 0 for its default (4 retries).
		out, err := b.Ipmitool("-N", "1", "-R", "1", "chassis", "power", "status")
		took := time.Since(st)
		if err == nil {
			t.Fatalf("a frozen BMC answered:\n%s", out)
		}
		t.Logf("frozen BMC: ipmitool gave up after %v", took.Round(time.Millisecond))
		b.Thaw(t)
		ipmitool(t, b, "chassis", "power", "status")
	})
}

// recorder is a fence agent for the fencer: it appends the parameters it
// gets (without the password) to log, then runs the stock agent.
const recorder = `#!/bin/sh
in=$(cat)
{ echo "=== $(date +%%s.%%N)"; printf '%%s\n' "$in" | grep -v '^password='; } >>%s
printf '%%s\n' "$in" | exec %s
`

func TestFencer(t *testing.T) {
	t.Parallel()
	requireStockAgent(t)
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls.log")
	agent := filepath.Join(dir, "fence_plrecord")
	if err := os.WriteFile(agent, []byte(fmt.Sprintf(recorder, calls, stockAgent)), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f := ipmi.StartFencer(t, ipmi.FencerSpec{
		Agents: map[string]string{"fence_plrecord": agent},
		Env:    []string{"PYTHONWARNINGS=ignore"},
	})
	t.Logf("fencer ready in %v", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	a := ipmi.StartBMC(t, ipmi.BMCSpec{Name: "nodeA", Wrap: f.Wrap()})
	b := ipmi.StartBMC(t, ipmi.BMCSpec{Name: "nodeB", Wrap: f.Wrap()})
	t.Logf("2 BMCs inside ready in %v", time.Since(start).Round(time.Millisecond))

	sa := func(timeout time.Duration, args ...string) string {
		t.Helper()
		st := time.Now()
		out, rc := f.StonithAdmin(t, timeout, args...)
		t.Logf("stonith_admin %s: rc %d in %v", strings.Join(args, " "), rc, time.Since(st).Round(time.Millisecond))
		if rc != 0 {
			t.Fatalf("stonith_admin %s: rc %d\n%s\n%s", strings.Join(args, " "), rc, out, f.LogTail())
		}
		return out
	}
	register := func(dev, agent, node string, bmc *ipmi.BMC) {
		t.Helper()
		args := []string{"-R", dev, "-a", agent}
		p := ipmi.With(bmc.FenceParams(), "pcmk_host_list", node)
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, "-o", k+"="+p[k])
		}
		sa(30*time.Second, args...)
	}

	// The agents the fencer sees: the stock ones and ours.
	out := sa(30*time.Second, "-I")
	for _, want := range []string{"fence_ipmilan", "fence_plrecord"} {
		if !strings.Contains(out, want) {
			t.Fatalf("stonith_admin -I lists no %s:\n%s", want, out)
		}
	}

	register("ipmiA", "fence_plrecord", "nodeA", a)
	register("ipmiB", "fence_ipmilan", "nodeB", b)
	sa(30*time.Second, "-Q", "ipmiA") // a monitor
	if out := sa(30*time.Second, "-l", "nodeA"); !strings.Contains(out, "ipmiA") || strings.Contains(out, "ipmiB") {
		t.Fatalf("devices for nodeA:\n%s", out)
	}

	sa(60*time.Second, "-F", "nodeA", "-t", "30")
	expectPower(t, a, false)
	expectPower(t, b, true)
	sa(60*time.Second, "-U", "nodeA", "-t", "30")
	expectPower(t, a, true)
	eventsAre(t, a.Events(), "set power 0", "set power 1")

	sa(60*time.Second, "-F", "nodeB", "-t", "30")
	expectPower(t, b, false)
	eventsAre(t, b.Events(), "set power 0")

	// What the fencer passed to our agent.
	data, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"action=metadata", "action=monitor", "action=off", "action=on", "nodename=nodeA", "port=nodeA", "cipher=3"} {
		if !strings.Contains(string(data), want+"\n") {
			t.Fatalf("the fencer never passed %s to fence_plrecord:\n%s", want, data)
		}
	}
	if log := f.Log(); !strings.Contains(log, "nodeA") || !strings.Contains(log, "nodeB") {
		t.Fatalf("fenced.log mentions no nodeA / nodeB:\n%s", f.LogTail())
	}

	// The BMCs are inside the fencer's network namespace only: their
	// ports are free here.
	for _, bmc := range []*ipmi.BMC{a, b} {
		c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", bmc.Port))
		if err != nil {
			t.Fatalf("BMC %s: port %d is taken outside the fencer's namespace: %v", bmc.Name, bmc.Port, err)
		}
		c.Close()
	}
}
