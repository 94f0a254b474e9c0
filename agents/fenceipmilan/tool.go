package fenceipmilan

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// tool is a Device that runs ipmitool once per command, as fence_ipmilan
// does, but with the password (-E) and the Kg key (-K) in ipmitool's
// environment, which only root and the process itself can read, instead
// of on its command line, which every user can.
type tool struct {
	cfg      Config
	password string
	log      *ocf.Logger
}

// toolCipher is the suite ipmitool gets when none is set: one explicit
// suite, since ipmitool asks the BMC otherwise (10 s on BMCs that ignore
// the question). 3 is what ipmitool used before 1.8.19.
const toolCipher = 3

func (t *tool) args(sub ...string) []string {
	c := t.cfg
	a := []string{"-I", c.iface(), "-H", c.Host, "-p", strconv.Itoa(c.Port)}
	if c.Target != "" {
		a = append(a, "-t", c.Target)
	}
	if c.User != "" {
		a = append(a, "-U", c.User)
	}
	if c.Auth != "" {
		a = append(a, "-A", strings.ToUpper(c.Auth))
	}
	a = append(a, "-E")
	if c.Lanplus {
		cipher := toolCipher
		if len(c.Ciphers) == 1 {
			cipher = c.Ciphers[0]
		}
		a = append(a, "-C", strconv.Itoa(cipher))
	}
	if c.Priv != "" {
		a = append(a, "-L", strings.ToUpper(c.Priv))
	}
	if len(c.Kg) > 0 {
		a = append(a, "-K")
	}
	secs := int((c.Timeout + time.Second - 1) / time.Second)
	a = append(a, "-N", strconv.Itoa(max(1, secs)), "-R", strconv.Itoa(c.Retries+1))
	a = append(a, sub...)
	if c.Verbose > 1 {
		// At most -vv: more makes ipmitool dump session keys.
		a = append(a, "-"+strings.Repeat("v", min(c.Verbose-1, 2)))
	}
	return a
}

// run runs ipmitool with sub and returns its stdout.
func (t *tool) run(ctx context.Context, sub ...string) (string, error) {
	argv := t.args(sub...)
	name := t.cfg.Ipmitool
	if t.cfg.Sudo != "" {
		argv = append([]string{"--preserve-env=IPMI_PASSWORD,IPMI_KGKEY", name}, argv...)
		name = t.cfg.Sudo
	}
	// ipmitool needs several exchanges per command, each of -N seconds
	// and -R attempts.
	limit := 4*t.cfg.Timeout*time.Duration(1+t.cfg.Retries) + 2*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	// A minimal environment: the C locale keeps messages matchable.
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "IPMI_PASSWORD=" + t.password}
	if len(t.cfg.Kg) > 0 {
		env = append(env, "IPMI_KGKEY="+string(t.cfg.Kg))
	}
	t.log.Debugf("running %s %s", name, strings.Join(argv, " "))
	start := time.Now()
	res, err := ocf.Helper{Path: name, Args: argv, Env: env, SplitStderr: true}.Run(ctx)
	out, errb := string(res.Stdout), string(res.Stderr)
	took := time.Since(start)
	what := "ipmitool " + strings.Join(sub, " ")
	if ctx.Err() == context.DeadlineExceeded {
		return "", classify(t.cfg, what, fmt.Errorf("no answer within %v", limit), 0, false, false)
	}
	if err != nil {
		detail := lastLines(errb+out, 2)
		if detail == "" {
			detail = err.Error()
		}
		// ipmitool says only "Unable to establish ... session" for a
		// wrong password or key and for a BMC that does not answer; but
		// no answer cannot come faster than one timeout.
		auth := strings.Contains(detail, "Unable to establish") && took < t.cfg.Timeout
		return "", classify(t.cfg, what, fmt.Errorf("%s", detail), 0, false, auth)
	}
	return out, nil
}

// parsePowerStatus reads ipmitool's "Chassis Power is on|off".
func parsePowerStatus(out string) (on, ok bool) {
	lower := strings.ToLower(out)
	i := strings.Index(lower, "chassis power is")
	if i < 0 {
		return false, false
	}
	rest := strings.TrimLeft(lower[i+len("chassis power is"):], " \t")
	switch {
	case strings.HasPrefix(rest, "on"):
		return true, true
	case strings.HasPrefix(rest, "off"):
		return false, true
	}
	return false, false
}

// Status runs "chassis power status".
func (t *tool) Status(ctx context.Context) (bool, error) {
	out, err := t.run(ctx, "chassis", "power", "status")
	if err != nil {
		return false, err
	}
	on, ok := parsePowerStatus(out)
	if !ok {
		return false, fmt.Errorf("ipmitool printed no power status: %q", lastLines(out, 1))
	}
	return on, nil
}

// Power runs "chassis power on|off|cycle|diag".
func (t *tool) Power(ctx context.Context, op fence.PowerOp) error {
	_, err := t.run(ctx, "chassis", "power", string(op))
	return err
}

// Close does nothing: every command was its own session.
func (t *tool) Close() {}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "; "))
}
