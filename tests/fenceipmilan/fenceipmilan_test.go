//go:build system

// Package fenceipmilan_test runs fence_paceline_ipmilan against real IPMI
// BMCs (OpenIPMI's ipmi_sim) over UDP on the loopback, as administrators
// call it (command line) and as pacemaker-fenced does (stdin), and then
// under a real pacemaker-fenced driven with stonith_admin.
package fenceipmilan_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/ipmi"
	"github.com/paceline-ha/paceline/tests/proc"
)

const (
	opName, opPass   = "opr", "Opr-pw-71"
	usrName, usrPass = "usr", "Usr-pw-52"
	admPass          = "Adm-pw-93"
)

// TestMain removes the installed binaries after the tests.
func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func users() []ipmi.User {
	return []ipmi.User{
		{Name: "fenceadm", Password: admPass, Priv: "admin"},
		{Name: opName, Password: opPass, Priv: "operator"},
		{Name: usrName, Password: usrPass, Priv: "user"},
	}
}

var secrets = []string{admPass, opPass, usrPass, "Wrong-pw-11"}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// fence runs the agent with params on stdin (as pacemaker-fenced does),
// or with args when args is not nil.
func fence(t *testing.T, agent string, params map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := proc.Command(ctx, agent, args...)
	if args == nil {
		cmd.Stdin = strings.NewReader(ipmi.FenceStdin(params))
		cmd.Env = append(os.Environ(), "PCMK_service=pacemaker-fenced", "HA_LOGFACILITY=none")
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	code, exited := proc.ExitCode(err)
	if !exited {
		t.Fatalf("%s: %v", agent, err)
	}
	r.code = code
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a password shows in the agent's output: %q %q", r.stdout, r.stderr)
		}
	}
	shown := r.stdout
	if len(shown) > 200 {
		shown = shown[:200] + "..."
	}
	t.Logf("%s %s -> %d in %v: %s%s", filepath.Base(agent), params["action"]+strings.Join(args, " "), r.code,
		r.took.Round(time.Millisecond), shown, r.stderr)
	return r
}

func expect(t *testing.T, r result, code int, out string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout+r.stderr, out) {
		t.Errorf("got exit %d %q %q, want %d and %q", r.code, r.stdout, r.stderr, code, out)
	}
}

// setup starts a BMC with three accounts and returns the installed agent.
func setup(t *testing.T) (string, *ipmi.BMC) {
	harness.RequireRoot(t, "ipmi_sim", "ipmitool")
	dir := harness.Install(t)
	bmc := ipmi.StartBMC(t, ipmi.BMCSpec{Users: users()})
	return filepath.Join(dir, "fence_paceline_ipmilan"), bmc
}

func powerEvents(b *ipmi.BMC) string {
	var s []string
	for _, e := range b.PowerEvents() {
		if e.On {
			s = append(s, "on")
		} else {
			s = append(s, "off")
		}
	}
	return strings.Join(s, " ")
}

func TestPowerActions(t *testing.T) {
	agent, bmc := setup(t)
	for _, lanplus := range []string{"1", "0"} {
		t.Run("lanplus="+lanplus, func(t *testing.T) {
			p := ipmi.With(bmc.FenceParams(), "lanplus", lanplus, "power_wait", "0.3", "nodename", "nodeA", "port", "nodeA")
			bmc.SetPower(t, true)
			expect(t, fence(t, agent, ipmi.With(p, "action", "status")), 0, "Status: ON")
			expect(t, fence(t, agent, ipmi.With(p, "action", "monitor")), 0, "")
			expect(t, fence(t, agent, ipmi.With(p, "action", "list")), 0, "NOTICE")

			before := len(bmc.PowerEvents())
			expect(t, fence(t, agent, ipmi.With(p, "action", "off")), 0, "Success: Powered OFF")
			if bmc.Power() {
				t.Fatal("off: the BMC's power is still on")
			}
			expect(t, fence(t, agent, ipmi.With(p, "action", "status")), 2, "Status: OFF")
			expect(t, fence(t, agent, ipmi.With(p, "action", "off")), 0, "Success: Already OFF")
			expect(t, fence(t, agent, ipmi.With(p, "action", "on")), 0, "Success: Powered ON")
			if !bmc.Power() {
				t.Fatal("on: the BMC's power is still off")
			}
			r := fence(t, agent, ipmi.With(p, "action", "reboot"))
			expect(t, r, 0, "Success: Rebooted")
			if !bmc.Power() {
				t.Error("reboot: the machine stayed off")
			}
			// off (off), on (on), reboot (off on), in this order.
			if got := powerEvents(bmc); !strings.HasSuffix(got, "off on off on") || len(bmc.PowerEvents())-before != 4 {
				t.Errorf("power events %q", got)
			}
			r = fence(t, agent, ipmi.With(p, "action", "reboot", "method", "cycle"))
			expect(t, r, 0, "Success: Rebooted")
			// ipmi_sim powers on about 1 s after the cycle; the bound is
			// for a BMC that never does, not for a slow one.
			bmc.WaitPower(t, true, 30*time.Second)
			if got := powerEvents(bmc); !strings.HasSuffix(got, "off on off on off on") {
				t.Errorf("cycle: power events %q", got)
			}
			// A reboot of a machine that is off powers it on.
			bmc.SetPower(t, false)
			expect(t, fence(t, agent, ipmi.With(p, "action", "reboot")), 0, "Success: Rebooted")
			if !bmc.Power() {
				t.Error("reboot from off: still off")
			}
		})
	}
	t.Run("command line", func(t *testing.T) {
		p := bmc.FenceParams()
		bmc.SetPower(t, true)
		expect(t, fence(t, agent, nil, "-a", p["ip"], "-u", p["ipport"], "-l", p["username"], "-p", p["password"],
			"-P", "-C", "3", "-o", "status"), 0, "Status: ON")
		expect(t, fence(t, agent, nil, "--ip="+p["ip"], "--ipport", p["ipport"], "--username", p["username"],
			"--password", p["password"], "--lanplus", "--power-wait=0.2", "--action=off"), 0, "Success: Powered OFF")
		expect(t, fence(t, agent, nil, "-a", p["ip"], "-u", p["ipport"], "-l", p["username"], "-p", p["password"],
			"-o", "status"), 2, "Status: OFF")
	})
	t.Run("option= is the action", func(t *testing.T) {
		bmc.SetPower(t, true)
		expect(t, fence(t, agent, ipmi.With(bmc.FenceParams(), "option", "status")), 0, "Status: ON")
		if !bmc.Power() {
			t.Error("option=status changed the power")
		}
	})
	t.Run("aliases", func(t *testing.T) {
		// fence_paceline_ilo3 defaults to lanplus (and power_wait 4): no
		// lanplus and no cipher given, it offers suites 17 then 3.
		bmc.SetPower(t, true)
		ilo3 := filepath.Join(filepath.Dir(agent), "fence_paceline_ilo3")
		expect(t, fence(t, ilo3, ipmi.With(bmc.FenceParams(), "lanplus", "", "cipher", "", "action", "status")), 0, "Status: ON")
		r := fence(t, ilo3, map[string]string{"action": "metadata"})
		expect(t, r, 0, `name="fence_paceline_ilo3"`)
		if !strings.Contains(r.stdout, `<content type="second" default="4" />`) {
			t.Error("ilo3 metadata does not show power_wait 4")
		}
		// fence_paceline_ipmilan itself defaults to IPMI 1.5.
		expect(t, fence(t, agent, ipmi.With(bmc.FenceParams(), "lanplus", "", "cipher", "", "action", "status")), 0, "Status: ON")
	})
}

// failsFast fails the test if a failure r took half of the power timeout
// or more: the agent gave up on the first answer (or silence) it
// classified, rather than waiting for the power state until the timeout.
// Half of it tells the two apart however busy the machine is; the speed
// itself is the benchmarks' business.
func failsFast(t *testing.T, r result, powerTimeout time.Duration, what string) {
	t.Helper()
	if r.took >= powerTimeout/2 {
		t.Errorf("%s took %v with power_timeout %v", what, r.took, powerTimeout)
	}
}

func TestFailures(t *testing.T) {
	agent, bmc := setup(t)
	const powerTimeout = 20 * time.Second
	p := ipmi.With(bmc.FenceParams(), "power_wait", "0.3", "ipmitool_timeout", "1", "power_timeout", "20")
	bmc.SetPower(t, true)

	t.Run("wrong password", func(t *testing.T) {
		for _, lanplus := range []string{"1", "0"} {
			r := fence(t, agent, ipmi.With(p, "password", "Wrong-pw-11", "lanplus", lanplus, "action", "off"))
			expect(t, r, 1, "authentication failed")
			failsFast(t, r, powerTimeout, "lanplus="+lanplus)
		}
		if !bmc.Power() {
			t.Error("the power changed")
		}
	})
	t.Run("insufficient privilege", func(t *testing.T) {
		u := ipmi.With(p, "username", usrName, "password", usrPass, "privlvl", "user")
		expect(t, fence(t, agent, ipmi.With(u, "action", "status")), 0, "Status: ON")
		expect(t, fence(t, agent, ipmi.With(u, "action", "off")), 1, "insufficient privilege")
		if !bmc.Power() {
			t.Error("a user-level account powered the machine off")
		}
		// Over IPMI 1.5 the BMC refuses the session at a level above the user's.
		expect(t, fence(t, agent, ipmi.With(u, "lanplus", "0", "privlvl", "operator", "action", "status")), 1, "privilege")
		o := ipmi.With(p, "username", opName, "password", opPass, "privlvl", "operator")
		expect(t, fence(t, agent, ipmi.With(o, "action", "off")), 0, "Success: Powered OFF")
		expect(t, fence(t, agent, ipmi.With(o, "action", "on")), 0, "Success: Powered ON")
	})
	t.Run("unknown cipher", func(t *testing.T) {
		// ipmi_sim has no SHA-256 suite (17).
		r := fence(t, agent, ipmi.With(p, "cipher", "17", "action", "status"))
		expect(t, r, 1, "cipher suite refused")
		failsFast(t, r, powerTimeout, "cipher 17")
		expect(t, fence(t, agent, ipmi.With(p, "cipher", "42", "action", "status")), 1, "not an IPMI cipher suite")
	})
	t.Run("BMC not answering", func(t *testing.T) {
		bmc.Freeze(t)
		defer bmc.Thaw(t)
		for _, action := range []string{"status", "off", "monitor"} {
			r := fence(t, agent, ipmi.With(p, "action", action))
			// One exchange of 1 s with one retry: the message says which
			// limits ended it, whatever the time it took.
			expect(t, r, 1, "BMC not answering: no reply from")
			expect(t, r, 1, "within 1s, 2 attempts")
			failsFast(t, r, powerTimeout, action)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		r := fence(t, agent, ipmi.With(p, "ipport", "9", "action", "status"))
		expect(t, r, 1, "BMC not answering: nothing listens")
	})
	t.Run("validate-all", func(t *testing.T) {
		expect(t, fence(t, agent, map[string]string{"action": "validate-all", "ip": "192.0.2.1"}), 0, "")
		expect(t, fence(t, agent, map[string]string{"action": "validate-all"}), 1, "no BMC address")
		expect(t, fence(t, agent, map[string]string{"action": "frobnicate", "ip": "192.0.2.1"}), 1, "Unrecognised action")
	})
}

// TestNoChildProcessAndKgFallback checks with strace that a status runs
// no process at all, and that with a Kg key the agent runs ipmitool with
// neither the password nor the key on its command line.
func TestNoChildProcessAndKgFallback(t *testing.T) {
	harness.RequireRoot(t, "ipmi_sim", "ipmitool", "strace")
	dir := harness.Install(t)
	agent := filepath.Join(dir, "fence_paceline_ipmilan")
	const kg = "Kg-key-4711"
	bmc := ipmi.StartBMC(t, ipmi.BMCSpec{Users: users()[:1], Kg: kg})
	secrets = append(secrets, kg)

	traced := func(params map[string]string) (result, string) {
		log := filepath.Join(t.TempDir(), "strace.log")
		cmd := proc.Command(context.Background(), "strace", "-f", "-qq", "-s", "512", "-e", "trace=execve", "-o", log, agent)
		cmd.Stdin = strings.NewReader(ipmi.FenceStdin(params))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{stdout: out.String(), stderr: errb.String()}
		if code, exited := proc.ExitCode(err); exited {
			r.code = code
		}
		data, _ := os.ReadFile(log)
		return r, string(data)
	}

	// With the key: ipmitool, given -E and -K, and nothing secret.
	r, trace := traced(ipmi.With(bmc.FenceParams(), "action", "status"))
	expect(t, r, 0, "Status: ON")
	execs := strings.Count(trace, "execve(")
	if !strings.Contains(trace, "ipmitool") || !strings.Contains(trace, `"-E"`) || !strings.Contains(trace, `"-K"`) {
		t.Errorf("no ipmitool -E -K in the trace:\n%s", trace)
	}
	for _, s := range []string{admPass, kg, "4b672d6b6579"} {
		if strings.Contains(trace, s) {
			t.Errorf("a secret is on a command line:\n%s", trace)
		}
	}
	t.Logf("Kg fallback: %d execs", execs)

	// A wrong key: authentication fails.
	r, _ = traced(ipmi.With(bmc.FenceParams(), "hexadecimal_kg", "deadbeef", "action", "status"))
	expect(t, r, 1, "authentication failed")

	// Without a key (another BMC): the agent itself, no process.
	plain := ipmi.StartBMC(t, ipmi.BMCSpec{Users: users()[:1]})
	r, trace = traced(ipmi.With(plain.FenceParams(), "action", "status"))
	expect(t, r, 0, "Status: ON")
	if n := strings.Count(trace, "execve("); n != 1 {
		t.Errorf("status ran %d programs, want only the agent:\n%s", n, trace)
	}
}

// TestUnderFencer registers the agent with a real pacemaker-fenced and
// fences a node through it.
func TestUnderFencer(t *testing.T) {
	harness.RequireRoot(t, "ipmi_sim", "ipmitool", "stonith_admin", ipmi.FencerDaemon, "nsenter", "unshare")
	dir := harness.Install(t)
	f := ipmi.StartFencer(t, ipmi.FencerSpec{Agents: map[string]string{
		"fence_paceline_ipmilan": filepath.Join(dir, "fence_paceline_ipmilan"),
	}})
	bmc := ipmi.StartBMC(t, ipmi.BMCSpec{Users: users(), Wrap: f.Wrap()})
	admin := func(args ...string) (string, int) { return f.StonithAdmin(t, 60*time.Second, args...) }
	devArgs := func(name string, params map[string]string) []string {
		args := []string{"-R", name, "-a", "fence_paceline_ipmilan"}
		for k, v := range params {
			args = append(args, "-o", k+"="+v)
		}
		return args
	}

	out, rc := admin("-M", "-a", "fence_paceline_ipmilan")
	if rc != 0 || !strings.Contains(out, `<parameter name="ipport"`) {
		t.Fatalf("metadata through the fencer: %d %s", rc, out)
	}
	p := ipmi.With(bmc.FenceParams(), "power_wait", "0.5", "pcmk_host_list", "nodeA")
	if out, rc := admin(devArgs("ipmi1", p)...); rc != 0 {
		t.Fatalf("register: %d %s\n%s", rc, out, f.LogTail())
	}
	if out, rc := admin("-Q", "ipmi1"); rc != 0 {
		t.Errorf("query: %d %s", rc, out)
	}
	start := time.Now()
	if out, rc := admin("-F", "nodeA", "-t", "60"); rc != 0 {
		t.Fatalf("fence off nodeA: %d %s\n%s", rc, out, f.LogTail())
	}
	t.Logf("stonith_admin -F (off) took %v", time.Since(start).Round(time.Millisecond))
	if bmc.Power() {
		t.Fatal("nodeA was fenced but its power is on")
	}
	if out, rc := admin("-U", "nodeA", "-t", "60"); rc != 0 || !bmc.Power() {
		t.Errorf("unfence (on) nodeA: %d %s, power %v", rc, out, bmc.Power())
	}
	before := len(bmc.PowerEvents())
	start = time.Now()
	if out, rc := admin("-B", "nodeA", "-t", "60"); rc != 0 {
		t.Errorf("reboot nodeA: %d %s", rc, out)
	}
	t.Logf("stonith_admin -B (reboot) took %v", time.Since(start).Round(time.Millisecond))
	if got := powerEvents(bmc); len(bmc.PowerEvents())-before != 2 || !strings.HasSuffix(got, "off on") {
		t.Errorf("reboot: power events %q", got)
	}

	// A device with a wrong password: the query fails too (fence_ipmilan's
	// list answers 0 without asking the BMC, so stonith_admin -Q said yes).
	bad := ipmi.With(bmc.FenceParams(), "password", "Wrong-pw-11", "pcmk_host_list", "nodeB")
	if out, rc := admin(devArgs("badpw", bad)...); rc != 0 {
		t.Fatalf("register badpw: %d %s", rc, out)
	}
	if out, rc := admin("-Q", "badpw"); rc == 0 {
		t.Errorf("query of a device with a wrong password succeeded: %s", out)
	}
	if out, rc := admin("-F", "nodeB", "-t", "30"); rc == 0 {
		t.Errorf("fencing through a device with a wrong password succeeded: %s", out)
	}
	if log := f.Log(); !strings.Contains(log, "authentication failed") {
		t.Errorf("the fencer's log does not show why badpw failed:\n%s", f.LogTail())
	}
	for _, s := range secrets {
		if strings.Contains(f.Log(), s) {
			t.Error("a password shows in the fencer's log")
		}
	}
}
