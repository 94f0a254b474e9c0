package ipmi

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Admin returns the first admin account.
func (b *BMC) Admin() User {
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

// With returns a copy of the fence parameters p with the name, value
// pairs set; an empty value removes the name.
func With(p map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(p))
	for k, v := range p {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

// FenceStdin is how pacemaker-fenced hands a fence agent its parameters:
// a name=value line each on stdin; sorted by name here, so that every
// run sends the same bytes.
func FenceStdin(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + p[k] + "\n")
	}
	return b.String()
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
func (b *BMC) IpmitoolAs(u User, kg string, args ...string) (string, error) {
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
	cmd := proc.Command(ctx, argv[0], argv[1:]...)
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
	data, err := os.ReadFile(b.stateFile())
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
	if err := ocf.WriteFileAtomic(b.stateFile(), []byte(v), 0o600); err != nil {
		t.Fatalf("BMC %s: set power: %v", b.Name, err)
	}
}

// WaitPower waits until the power state is on, failing the test after
// timeout.
func (b *BMC) WaitPower(t testing.TB, on bool, timeout time.Duration) {
	t.Helper()
	err := proc.Until(timeout, 20*time.Millisecond, func() error {
		if b.Power() != on {
			return fmt.Errorf("power not %v", on)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("BMC %s: %v; events %v\n%s", b.Name, err, b.Events(), b.LogTail())
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
	data, _ := os.ReadFile(b.chassisLog())
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
