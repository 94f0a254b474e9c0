//go:build system

// System tests of ocf:paceline:VirtualDomain against real libvirt daemons
// running TCG guests: a small kernel with a busybox initramfs that counts
// on its serial console, one guest that powers off on ACPI shutdown and
// one that ignores it; libvirtd stopped and frozen under the agent; and
// live migration between two libvirt hosts in their own namespaces.
package virtualdomain_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/guestimage"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

// TestMain removes the installed binaries after the tests.
func TestMain(m *testing.M) { os.Exit(h.Main(m)) }

var seq int

// guest writes the domain XML of a new guest and returns the agent that
// manages it on host, talking to host's libvirtd from the root namespace.
func guest(t *testing.T, host *libvirthost.Host, spec guestimage.Domain) (*h.Agent, string) {
	t.Helper()
	h.RequireRoot(t, "libvirtd", "virsh", "qemu-system-x86_64", "nsenter")
	img := guestimage.Tiny(t)
	seq++
	if spec.Name == "" {
		spec.Name = fmt.Sprintf("plvd%d-%d", os.Getpid()%10000, seq)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, spec.Name+".xml")
	if err := os.WriteFile(cfg, []byte(img.DomainXML(spec)), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &h.Agent{
		Dir: h.Install(t), Type: "VirtualDomain", Instance: spec.Name,
		Params:   map[string]string{"config": cfg, "hypervisor": host.URI},
		StateDir: filepath.Join(dir, "rsctmp"), LogFile: filepath.Join(dir, "ha.log"),
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(a.LogFile)
			t.Logf("agent log:\n%s\nlibvirtd log:\n%s", log, host.LogTail())
		}
	})
	return a, spec.Name
}

// startedGuest starts a libvirt host, makes a guest on it (guest) and
// starts the guest with the agent: how most tests below begin.
func startedGuest(t *testing.T, spec guestimage.Domain) (*libvirthost.Host, *h.Agent, string) {
	t.Helper()
	host := libvirthost.Start(t, 1)[0]
	a, name := guest(t, host, spec)
	h.Expect(t, a.Call(t, "start", h.Timeout(90*time.Second)), ocf.Success, "")
	return host, a, name
}

func domstate(host *libvirthost.Host, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := host.VirshCommand(ctx, "domstate", name).CombinedOutput()
	if err != nil {
		return "error: " + strings.TrimSpace(string(out))
	}
	return strings.TrimSpace(string(out))
}

// expectState ends the test unless the domain's state (virsh domstate)
// is want after the step named.
func expectState(t *testing.T, host *libvirthost.Host, name, want, after string) {
	t.Helper()
	if s := domstate(host, name); s != want {
		t.Fatalf("after %s the domain is %q", after, s)
	}
}

func persistent(host *libvirthost.Host, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := host.VirshCommand(ctx, "dominfo", name).CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Persistent:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "Persistent:"))
		}
	}
	return "not defined"
}

// debug turns on the agents' debug log lines.
func debug(c *ocf.Call) { c.ExtraEnv = append(c.ExtraEnv, "HA_debug=1") }

func agentLog(t *testing.T, a *h.Agent) string {
	data, _ := os.ReadFile(a.LogFile)
	return string(data)
}

// TestLifecycle: probe, start, monitor, graceful stop of a guest that
// handles ACPI, and the idempotent cases.
func TestLifecycle(t *testing.T) {
	host := libvirthost.Start(t, 1)[0]
	a, name := guest(t, host, guestimage.Domain{})

	h.Expect(t, a.Call(t, "validate-all"), ocf.Success, "")
	h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "") // probe: not defined
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")       // stopping a stopped domain

	h.Expect(t, a.Call(t, "start", h.Timeout(90*time.Second)), ocf.Success, "")
	expectState(t, host, name, "running", "start")
	if p := persistent(host, name); p != "yes" {
		t.Errorf("after start Persistent = %q, want yes", p)
	}
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second), debug), ocf.Success, "")
	// The monitor read the state over libvirt's remote protocol itself,
	// without loading libvirt.so (rpc.go).
	if log := agentLog(t, a); !strings.Contains(log, "monitor over libvirt's remote protocol") {
		t.Errorf("the monitor did not take its fast path; log:\n%s", log)
	}
	h.Expect(t, a.Call(t, "monitor"), ocf.Success, "") // probe of a running domain
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")   // already running

	// Paused counts as running, as upstream.
	host.Virsh(t, "suspend", name)
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	host.Virsh(t, "resume", name)

	serial := host.SerialLog(name)
	host.WaitSerial(t, serial, "COUNTER", 60*time.Second)
	res := a.Call(t, "stop", h.Timeout(60*time.Second))
	h.Expect(t, res, ocf.Success, "")
	expectState(t, host, name, "shut off", "stop")
	if log := agentLog(t, a); !strings.Contains(log, "shut down") || strings.Contains(log, "destroy") {
		t.Errorf("a guest that handles ACPI should shut down without a destroy; log:\n%s", log)
	}
	// Defined but stopped: not running, for a probe and a monitor.
	h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.NotRunning, "")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	t.Logf("graceful stop took %s", res.Elapsed)
}

// TestStopEscalates: a guest that ignores ACPI is destroyed before the
// stop's timeout; force_stop destroys at once.
func TestStopEscalates(t *testing.T) {
	host, a, name := startedGuest(t, guestimage.Domain{IgnoreACPI: true})
	host.WaitSerial(t, host.SerialLog(name), "COUNTER", 60*time.Second)

	timeout := 20 * time.Second
	res := a.Call(t, "stop", h.Timeout(timeout))
	h.Expect(t, res, ocf.Success, "")
	if res.TimedOut || res.Elapsed >= timeout {
		t.Fatalf("stop took %s with a %s timeout", res.Elapsed, timeout)
	}
	// It waited for the guest (about 80% of the budget) before destroying.
	if res.Elapsed < timeout/2 {
		t.Errorf("stop took only %s: it did not give the guest a chance", res.Elapsed)
	}
	expectState(t, host, name, "shut off", "stop")
	if log := agentLog(t, a); !strings.Contains(log, "destroying") {
		t.Errorf("no destroy in the log:\n%s", log)
	}
	t.Logf("stop of a guest ignoring ACPI: %s of %s", res.Elapsed, timeout)

	h.Expect(t, a.Call(t, "start", h.Timeout(90*time.Second)), ocf.Success, "")
	logged := len(agentLog(t, a))
	res = a.Call(t, "stop", h.Param("force_stop", "true"), h.Timeout(timeout))
	h.Expect(t, res, ocf.Success, "")
	// force_stop destroys at once: its log says so and shows no shutdown
	// request, and it did not spend the graceful part of the budget (about
	// 80%, which this guest ignoring ACPI would use up); half of the
	// timeout tells the two apart under any load.
	if log := agentLog(t, a)[logged:]; !strings.Contains(log, "force_stop: destroying") || strings.Contains(log, "shut down") {
		t.Errorf("force_stop should destroy without a shutdown request; log:\n%s", log)
	}
	if res.Elapsed >= timeout/2 {
		t.Errorf("force_stop took %s of a %s timeout: it waited for a graceful stop", res.Elapsed, timeout)
	}
	expectState(t, host, name, "shut off", "force_stop")
}

// TestShutdownMode: shutdown_mode is applied (upstream ignores it). A
// guest without a guest agent cannot be shut down with mode agent, so even
// a guest that handles ACPI ends up destroyed, with libvirt's reason
// logged.
func TestShutdownMode(t *testing.T) {
	host, a, name := startedGuest(t, guestimage.Domain{})
	host.WaitSerial(t, host.SerialLog(name), "COUNTER", 60*time.Second)
	res := a.Call(t, "stop", h.Param("shutdown_mode", "agent"), h.Timeout(15*time.Second))
	h.Expect(t, res, ocf.Success, "")
	log := agentLog(t, a)
	if !strings.Contains(log, "agent") || !strings.Contains(log, "destroying") {
		t.Errorf("shutdown_mode=agent on a guest without an agent should fail and lead to a destroy; log:\n%s", log)
	}
	expectState(t, host, name, "shut off", "stop")
	h.Expect(t, a.Call(t, "validate-all", h.Param("shutdown_mode", "acpi,bogus")), ocf.ErrConfigured, "bogus")
}

// TestLibvirtdDown: with the daemon stopped (the guest keeps running, as
// in real life) every action fails fast with a reason, never a false
// "not running"; once it is back, monitor sees the domain again.
func TestLibvirtdDown(t *testing.T) {
	host, a, name := startedGuest(t, guestimage.Domain{})
	host.Stop(t)
	for _, c := range []struct {
		action string
		opts   []h.CallOpt
	}{
		{"monitor", []h.CallOpt{h.Interval(10 * time.Second)}},
		{"monitor", nil}, // probe
		{"stop", nil},
		{"start", nil},
	} {
		// Fast: the refused connection is the answer, not a wait for
		// the budget; half of the timeout tells the two apart under any
		// load.
		const timeout = 30 * time.Second
		res := a.Call(t, c.action, append(c.opts, h.Timeout(timeout))...)
		h.Expect(t, res, ocf.ErrGeneric, "cannot connect to libvirt")
		if res.Elapsed >= timeout/2 {
			t.Errorf("%s with libvirtd down took %s of a %s timeout", c.action, res.Elapsed, timeout)
		}
	}
	host.Restart(t)
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	if s := domstate(host, name); s != "running" {
		t.Errorf("after the restart the domain is %q", s)
	}
	h.Expect(t, a.Call(t, "stop", h.Param("force_stop", "1")), ocf.Success, "")
}

// TestLibvirtdFrozen: a hung daemon (SIGSTOP) makes monitor, probe and
// stop fail with a reason before their timeout, never be killed.
func TestLibvirtdFrozen(t *testing.T) {
	host, a, _ := startedGuest(t, guestimage.Domain{})
	host.Freeze(t)
	thawed := false
	defer func() {
		if !thawed {
			host.Thaw(t)
		}
	}()
	for _, c := range []struct {
		action  string
		timeout time.Duration
		opts    []h.CallOpt
	}{
		{"monitor", 8 * time.Second, []h.CallOpt{h.Interval(10 * time.Second)}},
		{"monitor", 8 * time.Second, nil},
		{"stop", 12 * time.Second, nil},
	} {
		res := a.Call(t, c.action, append(c.opts, h.Timeout(c.timeout))...)
		h.Expect(t, res, ocf.ErrGeneric, "did not answer")
		if res.TimedOut || res.Elapsed >= c.timeout {
			t.Errorf("%s with libvirtd frozen: %s of a %s timeout (killed: %v)", c.action, res.Elapsed, c.timeout, res.TimedOut)
		}
	}
	host.Thaw(t)
	thawed = true
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, a.Call(t, "stop", h.Param("force_stop", "1")), ocf.Success, "")
}

// TestOCFTester runs resource-agents' ocf-tester on the agent, with a
// config without a uuid: ocf-tester starts the domain again after its
// stop, on the definition the first start left.
func TestOCFTester(t *testing.T) {
	h.RequireRoot(t, "ocf-tester", "xmllint")
	host := libvirthost.Start(t, 1)[0]
	a, _ := guest(t, host, guestimage.Domain{NoUUID: true})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := proc.Output(ctx, "env", "HA_RSCTMP="+a.StateDir, "ocf-tester", "-n", a.Instance,
		"-o", "config="+a.Params["config"], "-o", "hypervisor="+host.URI,
		filepath.Join(a.Dir, "VirtualDomain"))
	if err != nil || !strings.Contains(out, "passed all tests") {
		t.Fatalf("ocf-tester failed: %v\n%s", err, out)
	}
}
