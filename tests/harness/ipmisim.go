package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// BMCUser is an account of a simulated BMC. Priv is its privilege limit:
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
type BMCUser struct {
	Name, Password, Priv string
}

// BMCSpec describes a simulated BMC for StartBMC.
type BMCSpec struct {
	Name  string    // BMC name, default "bmc"
	Addr  string    // listen address, default 127.0.0.1
	Port  int       // UDP port; 0 picks a free one
	Users []BMCUser // default: one admin, "fenceadm" / "fencepw"
	Kg    string    // BMC key (raw, at most 20 bytes); clients then need it
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
	Users []BMCUser
	Kg    string

	wrap      []string
	powerHook []string
	state     string // Dir/power: "0" or "1"
	log       string // Dir/chassis.log

	mu   sync.Mutex
	cmd  *exec.Cmd     // the running ipmi_sim
	done chan struct{} // closed when it has exited
}

// Default account of a BMC without Users.
const (
	DefaultBMCUser     = "fenceadm"
	DefaultBMCPassword = "fencepw"
)

// ipmitoolTimeout bounds every ipmitool call of the harness.
const ipmitoolTimeout = 30 * time.Second

// StartBMC starts ipmi_sim with the power on, waits until it answers
// (ipmitool, lanplus, cipher suite 3) and stops it at cleanup. Give
// every client cipher suite 3: ipmi_sim 2.0.33 never answers Get Channel
// Cipher Suites, so a client that asks first waits 10-14 s, and it has
// no SHA-256 (suite 17).
func StartBMC(t testing.TB, spec BMCSpec) *BMC {
	t.Helper()
	if len(spec.Wrap) > 0 {
		RequireRoot(t, "ipmi_sim", "ipmitool", spec.Wrap[0])
	} else {
		for _, p := range []string{"ipmi_sim", "ipmitool"} {
			_, err := exec.LookPath(p)
			Require(t, err == nil, "needs %s (run tests/install-deps.sh)", p)
		}
	}
	b := &BMC{Name: spec.Name, Addr: spec.Addr, Port: spec.Port, Users: spec.Users, Kg: spec.Kg,
		wrap: append([]string(nil), spec.Wrap...), powerHook: append([]string(nil), spec.PowerHook...)}
	if b.Name == "" {
		b.Name = "bmc"
	}
	if b.Addr == "" {
		b.Addr = "127.0.0.1"
	}
	if len(b.Users) == 0 {
		b.Users = []BMCUser{{Name: DefaultBMCUser, Password: DefaultBMCPassword, Priv: "admin"}}
	}
	if err := b.check(); err != nil {
		t.Fatalf("StartBMC: %v", err)
	}
	dir, err := os.MkdirTemp("", "paceline-bmc-"+b.Name+"-")
	if err != nil {
		t.Fatalf("StartBMC: %v", err)
	}
	b.Dir = dir
	b.state = filepath.Join(dir, "power")
	b.log = filepath.Join(dir, "chassis.log")
	t.Cleanup(func() {
		if err := b.stop(5 * time.Second); err != nil {
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
		b.start(t)
		err := b.waitReady(10 * time.Second)
		if err == nil {
			break
		}
		retry := pick && attempt < 3 && (errors.Is(err, errPortShared) || b.exited())
		if err := b.stop(5 * time.Second); err != nil {
			t.Errorf("BMC %s: %v", b.Name, err)
		}
		if !retry {
			t.Fatalf("BMC %s on %s:%d: %v\n%s", b.Name, b.Addr, b.Port, err, b.LogTail())
		}
		t.Logf("BMC %s: port %d: %v; trying another", b.Name, b.Port, err)
	}
	return b
}

// check validates the spec: lan.conf has no escapes in its strings.
func (b *BMC) check() error {
	for _, s := range []string{b.Name, b.Kg} {
		if strings.ContainsAny(s, "\"\\\n\r") {
			return fmt.Errorf("%q: quotes, backslashes and newlines are not possible", s)
		}
	}
	if len(b.Kg) > 20 {
		return fmt.Errorf("Kg %q is longer than 20 bytes", b.Kg)
	}
	if len(b.Users) > 60 {
		return fmt.Errorf("%d users; at most 60 are possible", len(b.Users))
	}
	for _, u := range b.Users {
		switch u.Priv {
		case "user", "operator", "admin":
		default:
			return fmt.Errorf("user %q: Priv %q, want user, operator or admin", u.Name, u.Priv)
		}
		if u.Name == "" || len(u.Name) > 16 || len(u.Password) > 20 {
			return fmt.Errorf("user %q: name 1-16 bytes and password up to 20 bytes please", u.Name)
		}
		for _, s := range []string{u.Name, u.Password} {
			if strings.ContainsAny(s, "\"\\\n\r") {
				return fmt.Errorf("user %q: quotes, backslashes and newlines are not possible", u.Name)
			}
		}
	}
	if net.ParseIP(b.Addr) == nil {
		return fmt.Errorf("Addr %q is not an IP address", b.Addr)
	}
	return nil
}

// writeFiles writes the power state (on), the command file ipmi_sim
// runs at start-up and the chassis-control script.
func (b *BMC) writeFiles() error {
	if err := os.WriteFile(b.state, []byte("1\n"), 0o600); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(b.Dir, "state"), 0o700); err != nil {
		return err
	}
	// One BMC at IPMB 0x20: device ID 0, no device SDRs, revision 3,
	// firmware 9.8, with the chassis, event receiver, FRU, SEL, SDR and
	// sensor functions (0x9f); manufacturer and product made up.
	emu := "# ipmi_sim commands of a paceline test BMC (tests/harness)\n" +
		"mc_setbmc 0x20\n" +
		"mc_add 0x20 0 no-device-sdrs 0x03 9 8 0x9f 0x1291 0xf02 persist_sdr\n" +
		"mc_enable 0x20\n"
	if err := os.WriteFile(filepath.Join(b.Dir, "bmc.emu"), []byte(emu), 0o600); err != nil {
		return err
	}
	hook := ":"
	if len(b.powerHook) > 0 {
		hook = shellQuote(b.powerHook...) + ` "$2" >>"$log" 2>&1 </dev/null`
	}
	script := fmt.Sprintf(`#!/bin/sh
# Chassis control of a paceline test BMC, written by tests/harness.
# ipmi_sim runs "<this> 0x20 get power" and reads "power:0" or "power:1",
# and "<this> 0x20 set power 0|1" to switch it (set reset 1 for a hard
# reset, which changes nothing here). Every call is logged.
state=%s
log=%s
echo "$(date +%%s.%%N) $*" >>"$log"
op=$2
shift 2
case $op in
get)
	for what in "$@"; do
		case $what in
		power) echo "power:$(cat "$state")" ;;
		boot) echo "boot:default" ;;
		*) echo "unsupported: get $what" >>"$log"; exit 1 ;;
		esac
	done ;;
set)
	while [ $# -ge 2 ]; do
		if [ "$1" = power ]; then
			echo "$2" >"$state.new" && mv -f "$state.new" "$state" || exit 1
			%s
		fi
		shift 2
	done ;;
*)
	echo "unsupported: $op" >>"$log"
	exit 1 ;;
esac
exit 0
`, shellQuote(b.state), shellQuote(b.log), hook)
	return os.WriteFile(filepath.Join(b.Dir, "chassis-control"), []byte(script), 0o700)
}

// writeConfig writes lan.conf (0600) for the current port.
func (b *BMC) writeConfig() error {
	guid := make([]byte, 16)
	_, _ = rand.Read(guid)
	var c strings.Builder
	fmt.Fprintf(&c, "# ipmi_sim configuration of a paceline test BMC (tests/harness)\n")
	fmt.Fprintf(&c, "name %q\n", b.Name)
	fmt.Fprintf(&c, "set_working_mc 0x20\n")
	fmt.Fprintf(&c, "startlan 1\n")
	fmt.Fprintf(&c, "  addr %s %d\n", b.Addr, b.Port)
	fmt.Fprintf(&c, "  priv_limit admin\n")
	for _, p := range []string{"callback", "user", "operator", "admin"} {
		fmt.Fprintf(&c, "  allowed_auths_%s none md2 md5 straight\n", p)
	}
	// RMCP+ (lanplus) needs a GUID.
	fmt.Fprintf(&c, "  guid %s\n", hex.EncodeToString(guid))
	if b.Kg != "" {
		fmt.Fprintf(&c, "  bmc_key \"%s\"\n", b.Kg)
	}
	fmt.Fprintf(&c, "endlan\n")
	fmt.Fprintf(&c, "chassis_control \"%s 0x20\"\n", filepath.Join(b.Dir, "chassis-control"))
	// User 1 is IPMI's anonymous user: left out.
	for i, u := range b.Users {
		fmt.Fprintf(&c, "user %d true \"%s\" \"%s\" %s 10 none md2 md5 straight\n", i+2, u.Name, u.Password, u.Priv)
	}
	return ocf.WriteFileAtomic(filepath.Join(b.Dir, "lan.conf"), []byte(c.String()), 0o600)
}

// start starts ipmi_sim as our child, SIGKILLed should the test binary
// die (a frozen one would not act on SIGTERM).
func (b *BMC) start(t testing.TB) {
	t.Helper()
	argv := append(append([]string(nil), b.wrap...), "ipmi_sim", "-n",
		"-c", filepath.Join(b.Dir, "lan.conf"), "-f", filepath.Join(b.Dir, "bmc.emu"), "-s", filepath.Join(b.Dir, "state"))
	cmd, done := startChild(t, argv, b.Dir, nil, filepath.Join(b.Dir, "ipmi_sim.log"), syscall.SIGKILL)
	b.mu.Lock()
	b.cmd, b.done = cmd, done
	b.mu.Unlock()
}

// exited reports whether the last ipmi_sim started has exited.
func (b *BMC) exited() bool {
	b.mu.Lock()
	done := b.done
	b.mu.Unlock()
	return closed(done)
}

// pid returns the running ipmi_sim's PID, or 0.
func (b *BMC) pid() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// errPortShared: another socket has b's port in ipmi_sim's namespace.
// ipmi_sim binds with SO_REUSEADDR, so it does not fail then: it gets
// part of the traffic, or none.
var errPortShared = errors.New("another socket is bound to the port")

// waitReady waits until ipmi_sim has bound its port (seen in the
// process's own network namespace), alone, and answers a power status.
func (b *BMC) waitReady(timeout time.Duration) error {
	end := time.Now().Add(timeout)
	pid := b.pid()
	for {
		if b.exited() {
			return errors.New("ipmi_sim exited")
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "ipmi_sim" {
			ours, others := udpSockets(pid, b.Port)
			if others > 0 {
				return errPortShared
			}
			if ours {
				break
			}
		}
		if time.Now().After(end) {
			return fmt.Errorf("ipmi_sim (PID %d) has not bound UDP port %d after %v (a Wrap must exec, not fork)", pid, b.Port, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var err error
	var out string
	for time.Now().Before(end) {
		if out, err = b.Ipmitool("-N", "1", "-R", "1", "chassis", "power", "status"); err == nil {
			return nil
		}
		if b.exited() {
			return errors.New("ipmi_sim exited")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not answering after %v: %v\n%s", timeout, err, out)
}

// udpSockets looks at the UDP sockets bound to port in pid's network
// namespace: whether one is pid's, and how many others there are.
func udpSockets(pid, port int) (ours bool, others int) {
	mine := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	for _, f := range []string{"udp", "udp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if i < 0 {
				continue
			}
			if p, err := strconv.ParseUint(fields[1][i+1:], 16, 16); err != nil || int(p) != port {
				continue
			}
			if mine[fields[9]] {
				ours = true
			} else {
				others++
			}
		}
	}
	return ours, others
}

// freeUDPPort asks the kernel for a free UDP port on addr (or on the
// loopback when addr is not an address here, e.g. one inside a
// namespace).
func freeUDPPort(addr string) (int, error) {
	c, err := net.ListenPacket("udp", net.JoinHostPort(addr, "0"))
	if err != nil {
		if c, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return 0, err
		}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// Admin returns the first admin account.
func (b *BMC) Admin() BMCUser {
	for _, u := range b.Users {
		if u.Priv == "admin" {
			return u
		}
	}
	return b.Users[0]
}

// FenceParams returns fence_ipmilan parameters (stdin or stonith_admin
// -o) for the first admin account: ip, ipport, username, password,
// lanplus=1, cipher=3 and, with a Kg, hexadecimal_kg. Add action (and
// for a fence device pcmk_host_list).
func (b *BMC) FenceParams() map[string]string {
	u := b.Admin()
	p := map[string]string{
		"ip": b.Addr, "ipport": strconv.Itoa(b.Port), "username": u.Name, "password": u.Password,
		"lanplus": "1", "cipher": "3",
	}
	if b.Kg != "" {
		p["hexadecimal_kg"] = hex.EncodeToString([]byte(b.Kg))
	}
	return p
}

// Ipmitool runs ipmitool against b as the first admin account, with
// lanplus and cipher suite 3, the password in the environment (-E) and,
// when b has a Kg, the key too (-K), under b's Wrap; at most 30 s. Put
// options such as -N 1 -R 0 or -L OPERATOR before the command. It
// returns the combined output.
func (b *BMC) Ipmitool(args ...string) (string, error) {
	return b.IpmitoolAs(b.Admin(), b.Kg, args...)
}

// IpmitoolAs is Ipmitool as another account (any name and password,
// e.g. a wrong one) and with the given Kg ("" for none).
func (b *BMC) IpmitoolAs(u BMCUser, kg string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ipmitoolTimeout)
	defer cancel()
	argv := append(append([]string(nil), b.wrap...), "ipmitool", "-I", "lanplus", "-C", "3",
		"-H", b.Addr, "-p", strconv.Itoa(b.Port), "-U", u.Name, "-E")
	env := append(os.Environ(), "IPMI_PASSWORD="+u.Password)
	if kg != "" {
		argv = append(argv, "-K")
		env = append(env, "IPMI_KGKEY="+kg)
	}
	argv = append(argv, args...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("ipmitool timed out after %v: %v", ipmitoolTimeout, err)
	}
	return out.String(), err
}

// Power returns the simulated power state: true for on.
func (b *BMC) Power() bool {
	data, err := os.ReadFile(b.state)
	return err != nil || strings.TrimSpace(string(data)) != "0"
}

// SetPower sets the simulated power state behind the BMC's back (as if
// someone pressed the button): no event, no PowerHook.
func (b *BMC) SetPower(t testing.TB, on bool) {
	t.Helper()
	v := "0\n"
	if on {
		v = "1\n"
	}
	if err := ocf.WriteFileAtomic(b.state, []byte(v), 0o600); err != nil {
		t.Fatalf("BMC %s: set power: %v", b.Name, err)
	}
}

// WaitPower waits until the power state is on, failing the test after
// timeout.
func (b *BMC) WaitPower(t testing.TB, on bool, timeout time.Duration) {
	t.Helper()
	end := time.Now().Add(timeout)
	for b.Power() != on {
		if time.Now().After(end) {
			t.Fatalf("BMC %s: power not %v after %v; events %v\n%s", b.Name, on, timeout, b.Events(), b.LogTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PowerEvent is one "set power" call of ipmi_sim's chassis control.
type PowerEvent struct {
	At time.Time
	On bool
}

// chassisCall is one logged chassis-control call.
type chassisCall struct {
	at   time.Time
	args []string // after the MC address: e.g. "set", "power", "0"
}

// calls reads the chassis log.
func (b *BMC) calls() []chassisCall {
	data, _ := os.ReadFile(b.log)
	var out []chassisCall
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		sec, frac, _ := strings.Cut(f[0], ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		ns, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		if err1 != nil || err2 != nil {
			continue // a PowerHook's output
		}
		out = append(out, chassisCall{at: time.Unix(s, ns), args: f[2:]})
	}
	return out
}

// Events returns the "set" calls of ipmi_sim's chassis control, oldest
// first, as "15:04:05.000000 set power 0" (also "set reset 1" on a
// hard reset); "get" calls are left out.
func (b *BMC) Events() []string {
	var out []string
	for _, c := range b.calls() {
		if len(c.args) > 0 && c.args[0] == "set" {
			out = append(out, c.at.Format("15:04:05.000000")+" "+strings.Join(c.args, " "))
		}
	}
	return out
}

// PowerEvents returns the "set power" calls, oldest first.
func (b *BMC) PowerEvents() []PowerEvent {
	var out []PowerEvent
	for _, c := range b.calls() {
		if len(c.args) >= 3 && c.args[0] == "set" && c.args[1] == "power" {
			out = append(out, PowerEvent{At: c.at, On: c.args[2] != "0"})
		}
	}
	return out
}

// Freeze stops ipmi_sim with SIGSTOP: a BMC that does not answer. Thaw
// (or cleanup) resumes it.
func (b *BMC) Freeze(t testing.TB) {
	t.Helper()
	pid := b.pid()
	if pid == 0 || b.exited() {
		t.Fatalf("BMC %s: Freeze: ipmi_sim is not running", b.Name)
	}
	if err := freeze(pid); err != nil {
		t.Fatalf("BMC %s: freeze ipmi_sim: %v", b.Name, err)
	}
}

// Thaw resumes an ipmi_sim stopped by Freeze.
func (b *BMC) Thaw(t testing.TB) {
	t.Helper()
	pid := b.pid()
	if pid == 0 || b.exited() {
		t.Fatalf("BMC %s: Thaw: ipmi_sim is not running", b.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatalf("BMC %s: SIGCONT ipmi_sim %d: %v", b.Name, pid, err)
	}
}

// Stop stops ipmi_sim (SIGTERM, SIGKILL after 5 s): a BMC that is gone.
func (b *BMC) Stop(t testing.TB) {
	t.Helper()
	if err := b.stop(5 * time.Second); err != nil {
		t.Fatalf("BMC %s: %v", b.Name, err)
	}
}

// stop ends our ipmi_sim, if running, by its PID.
func (b *BMC) stop(grace time.Duration) error {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd, b.done = nil, nil
	b.mu.Unlock()
	if cmd == nil {
		return nil
	}
	return stopChild("ipmi_sim", cmd, done, grace)
}

// LogTail returns the end of ipmi_sim's output and of the chassis log,
// for failure messages.
func (b *BMC) LogTail() string {
	return readTail(filepath.Join(b.Dir, "ipmi_sim.log"), 20) + readTail(b.log, 20)
}

// shellQuote quotes words for sh.
func shellQuote(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
