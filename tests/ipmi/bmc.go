// Package ipmi simulates the power side of fencing for the tests:
// BMCs (ipmi_sim with a chassis-control script of the harness's, whose
// power switch a test can watch and hook into) and a stand-alone
// pacemaker-fenced in namespaces of its own (Fencer). Its smoke test is
// the ipmisim tier; the fence agent tier and both test clusters use it.
package ipmi

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// User is an account of a simulated BMC. Priv is its privilege limit:
// "user", "operator" or "admin". IPMI limits Name to 16 bytes and
// Password to 20.
//
// Measured against ipmi_sim 2.0.33 with ipmitool 1.8.19: a client asks
// for a privilege level when it opens the session (ipmitool -L,
// fence_ipmilan privlvl; both default to ADMINISTRATOR). With -L USER
// the session may read the power state, but "chassis power off" fails
// with completion code 0xd4 (insufficient privilege level); with -L
// OPERATOR or higher it may power off and on. Over IPMI 1.5 (-I lan,
// lanplus=0) asking for more than Priv fails the session ("Requested
// privilege level exceeds limit"). Over IPMI 2.0 (lanplus) ipmi_sim
// does not check Priv at all: the session gets the level the client
// asked for (its RAKP 1 handler takes the requested role as the
// session's limit), so a "user" account asking for ADMINISTRATOR may
// power off. A test that wants "insufficient privilege" over lanplus
// must make the client ask for USER.
type User struct {
	Name, Password, Priv string
}

// BMCSpec describes a simulated BMC for StartBMC.
type BMCSpec struct {
	Name  string // BMC name, default "bmc"
	Addr  string // listen address, default 127.0.0.1
	Port  int    // UDP port; 0 picks a free one
	Users []User // default: one admin, "fenceadm" / "fencepw"
	Kg    string // BMC key (raw, at most 20 bytes); clients then need it
	// PowerHook, when set, runs as PowerHook + "0" or "1" each time the
	// BMC switches the power (not on SetPower), synchronously inside
	// the chassis-control call: it runs where ipmi_sim runs (inside
	// Wrap's namespaces), ipmi_sim answers nobody until it returns, and
	// its output goes to the chassis log. Keep it short.
	PowerHook []string
	// Wrap is a command prefix that runs ipmi_sim somewhere else, e.g.
	// Fencer.Wrap() (nsenter ... --). It must exec the program, not fork
	// it, so that the PID we start is ipmi_sim's. Every command of the
	// BMC (Ipmitool, the readiness probe) runs under it too.
	Wrap []string
}

// BMC is a running ipmi_sim: one BMC at IPMB address 0x20 on a LAN
// channel (IPMI 1.5 and 2.0 / RMCP+), whose chassis power is a state
// file under Dir switched by a chassis-control script the harness writes
// there. Dir (0700) holds lan.conf (0600: it holds the passwords), the
// state, ipmi_sim.log (its stdout and stderr; after start-up ipmi_sim
// logs to syslog only) and chassis.log (every chassis-control call).
//
// What ipmi_sim 2.0.33 does with each chassis control request, measured
// with ipmitool (TestBMC in tests/ipmisim checks it):
//
//   - power off / on: "set power 0" / "set power 1", at once.
//   - power cycle: "set power 0" at once, then about 1 s later (a timer)
//     "get power" and "set power 1". Also when the power was off: a
//     cycle of a powered-off BMC powers it on (real BMCs mostly refuse
//     or ignore it).
//   - power reset (hard reset): "set reset 1"; the power stays as it
//     is (on or off).
//   - power soft (ACPI shutdown): "set shutdown 1"; the power stays on
//     here (no OS to shut down).
//   - power diag (pulse diagnostic interrupt): refused with completion
//     code 0xcc (invalid data field in request), nothing is called.
//
// A frozen (SIGSTOPped) BMC: ipmitool fails after its retries, 2 s with
// -N 1 -R 1; note that -R 0 means "the default" (20 s with -N 1, as
// without options). Timings on this machine: ready 40-60 ms after the
// start; one ipmitool call (lanplus, -C 3) 25-50 ms.
type BMC struct {
	Name  string
	Addr  string
	Port  int
	Dir   string
	Users []User
	Kg    string

	wrap      []string
	powerHook []string
	sim       proc.Slot // the running ipmi_sim
}

// Default account of a BMC without Users.
const (
	DefaultUser     = "fenceadm"
	DefaultPassword = "fencepw"
)

// ipmitoolTimeout bounds every ipmitool call of the harness.
const ipmitoolTimeout = 30 * time.Second

// NewBMC returns the BMC of spec (defaults filled in) whose files are
// in dir; nothing is written or started.
func NewBMC(spec BMCSpec, dir string) *BMC {
	b := &BMC{Name: spec.Name, Addr: spec.Addr, Port: spec.Port, Dir: dir, Users: spec.Users, Kg: spec.Kg,
		wrap: append([]string(nil), spec.Wrap...), powerHook: append([]string(nil), spec.PowerHook...)}
	if b.Name == "" {
		b.Name = "bmc"
	}
	if b.Addr == "" {
		b.Addr = "127.0.0.1"
	}
	if len(b.Users) == 0 {
		b.Users = []User{{Name: DefaultUser, Password: DefaultPassword, Priv: "admin"}}
	}
	return b
}

// StartBMC starts ipmi_sim with the power on, waits until it answers
// (ipmitool, lanplus, cipher suite 3) and stops it at cleanup. Give
// every client cipher suite 3: ipmi_sim 2.0.33 never answers Get Channel
// Cipher Suites, so a client that asks first waits 10-14 s, and it has
// no SHA-256 (suite 17).
func StartBMC(t testing.TB, spec BMCSpec) *BMC {
	t.Helper()
	if len(spec.Wrap) > 0 {
		harness.RequireRoot(t, "ipmi_sim", "ipmitool", spec.Wrap[0])
	} else {
		for _, p := range []string{"ipmi_sim", "ipmitool"} {
			_, err := proc.LookPath(p)
			harness.Require(t, err == nil, "needs %s (run tests/install-deps.sh)", p)
		}
	}
	b := NewBMC(spec, "")
	if err := b.check(); err != nil {
		t.Fatalf("StartBMC: %v", err)
	}
	dir, err := os.MkdirTemp("", "paceline-bmc-"+b.Name+"-")
	if err != nil {
		t.Fatalf("StartBMC: %v", err)
	}
	b.Dir = dir
	t.Cleanup(func() {
		if err := b.sim.Stop(5 * time.Second); err != nil {
			t.Errorf("BMC %s: %v", b.Name, err)
		}
		if t.Failed() {
			t.Logf("BMC %s on %s:%d:\n%s", b.Name, b.Addr, b.Port, b.LogTail())
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("BMC %s: %v", b.Name, err)
		}
	})
	if err := b.writeFiles(); err != nil {
		t.Fatalf("BMC %s: %v", b.Name, err)
	}

	// A port picked here may be taken by the time ipmi_sim binds it, or
	// be taken in Wrap's namespace: then we try another one.
	for attempt := 1; ; attempt++ {
		pick := spec.Port == 0
		if pick {
			if b.Port, err = freeUDPPort(b.Addr); err != nil {
				t.Fatalf("BMC %s: pick a port: %v", b.Name, err)
			}
		}
		if err := b.writeConfig(); err != nil {
			t.Fatalf("BMC %s: %v", b.Name, err)
		}
		if err := b.Launch(false); err != nil {
			t.Fatalf("BMC %s: %v", b.Name, err)
		}
		end := time.Now().Add(10 * time.Second)
		err := b.waitBound(time.Until(end))
		if err == nil {
			err = b.WaitAnswering(time.Until(end))
		}
		if err == nil {
			break
		}
		retry := pick && attempt < 3 && (errors.Is(err, errPortShared) || b.sim.Exited())
		if err := b.sim.Stop(5 * time.Second); err != nil {
			t.Errorf("BMC %s: %v", b.Name, err)
		}
		if !retry {
			t.Fatalf("BMC %s on %s:%d: %v\n%s", b.Name, b.Addr, b.Port, err, b.LogTail())
		}
		t.Logf("BMC %s: port %d: %v; trying another", b.Name, b.Port, err)
	}
	return b
}

// Prepare writes every file of the BMC into Dir (made 0700): the power
// state (on), ipmi_sim's configuration for Port and the chassis-control
// script; Launch then starts it.
func (b *BMC) Prepare() error {
	if err := b.check(); err != nil {
		return err
	}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return err
	}
	if err := b.writeFiles(); err != nil {
		return err
	}
	return b.writeConfig()
}

// Launch starts ipmi_sim, under Wrap, as our child. An attached one is
// SIGKILLed should this process die (a frozen one would not act on
// SIGTERM); a detached one outlives it (the BMCs of a namespace cluster
// that plcluster leaves running), its PID recorded for RecordedPID.
func (b *BMC) Launch(detached bool) error {
	spec := proc.Spec{
		Argv: append(append([]string(nil), b.wrap...), "ipmi_sim", "-n", "-c", filepath.Join(b.Dir, "lan.conf"),
			"-f", filepath.Join(b.Dir, "bmc.emu"), "-s", filepath.Join(b.Dir, "state")),
		Dir: b.Dir, Log: filepath.Join(b.Dir, "ipmi_sim.log"), Detach: detached, DeathSignal: syscall.SIGKILL,
	}
	if detached {
		spec.PIDFile = filepath.Join(b.Dir, "pid")
	}
	p, err := proc.Start(spec)
	if err != nil {
		return err
	}
	b.sim.Set(p)
	return nil
}

// RecordedPID returns the PID of the detached ipmi_sim Launch recorded
// in Dir, when it still runs, else 0: from any process.
func (b *BMC) RecordedPID() int {
	return proc.Recorded(filepath.Join(b.Dir, "pid"), "ipmi_sim", filepath.Join(b.Dir, "lan.conf"))
}

// Freeze stops ipmi_sim with SIGSTOP: a BMC that does not answer. Thaw
// (or cleanup) resumes it.
func (b *BMC) Freeze(t testing.TB) {
	t.Helper()
	if err := b.sim.Freeze(); err != nil {
		t.Fatalf("BMC %s: freeze ipmi_sim: %v", b.Name, err)
	}
}

// Thaw resumes an ipmi_sim stopped by Freeze.
func (b *BMC) Thaw(t testing.TB) {
	t.Helper()
	if err := b.sim.Thaw(); err != nil {
		t.Fatalf("BMC %s: thaw ipmi_sim: %v", b.Name, err)
	}
}

// Stop stops ipmi_sim (SIGTERM, SIGKILL after 5 s): a BMC that is gone.
func (b *BMC) Stop(t testing.TB) {
	t.Helper()
	if err := b.sim.Stop(5 * time.Second); err != nil {
		t.Fatalf("BMC %s: %v", b.Name, err)
	}
}

// LogTail returns the end of ipmi_sim's output and of the chassis log,
// for failure messages.
func (b *BMC) LogTail() string {
	return harness.Tail(filepath.Join(b.Dir, "ipmi_sim.log"), 20) + harness.Tail(b.chassisLog(), 20)
}

func (b *BMC) stateFile() string  { return filepath.Join(b.Dir, "power") }
func (b *BMC) chassisLog() string { return filepath.Join(b.Dir, "chassis.log") }
