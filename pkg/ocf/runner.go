package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Call describes one run of an agent the way pacemaker-execd performs it.
type Call struct {
	Path     string // executable to run
	Argv0    string // argv[0]; defaults to Path (a multi-call binary dispatches on it)
	Type     string // OCF_RESOURCE_TYPE
	Provider string // OCF_RESOURCE_PROVIDER
	Instance string // OCF_RESOURCE_INSTANCE
	Action   string

	Params map[string]string // OCF_RESKEY_<name>
	Meta   map[string]string // extra OCF_RESKEY_CRM_meta_<name>

	Timeout    time.Duration // CRM_meta_timeout and the kill timer; 20 s if 0
	Interval   time.Duration // CRM_meta_interval (0: one-shot or probe)
	CheckLevel string        // OCF_CHECK_LEVEL when not empty

	// BaseEnv is the executor's own environment the OCF variables are added
	// to; OCF_* variables in it are dropped first. Nil means a minimal PATH.
	BaseEnv []string
	// ExtraEnv is added last (e.g. HA_LOGFILE, HA_debug).
	ExtraEnv []string

	// Wrap, when set, is a command the agent runs under, such as
	// ["ip", "netns", "exec", "ns1"] or ["strace", "-f", "-o", "trace"]:
	// the process started is Wrap followed by Path and Action.
	Wrap []string
}

// CallResult is what the executor observed.
type CallResult struct {
	Code     Status
	Reason   string // the last exit-reason line, as execd takes it
	Stdout   string
	Stderr   string
	Elapsed  time.Duration
	TimedOut bool
	Usage    *syscall.Rusage // the child's resource usage (with its descendants)
}

// Env returns the environment the agent gets.
func (c *Call) Env() []string {
	base := c.BaseEnv
	if base == nil {
		base = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	var env []string
	for _, kv := range base {
		if strings.HasPrefix(kv, "OCF_") || strings.HasPrefix(kv, "__OCF_") {
			continue
		}
		env = append(env, kv)
	}
	timeout := c.timeout()
	provider := c.Provider
	if provider == "" {
		provider = "paceline"
	}
	env = append(env,
		"OCF_ROOT=/usr/lib/ocf",
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESOURCE_INSTANCE="+c.Instance,
		"OCF_RESOURCE_TYPE="+c.Type,
		"OCF_RESOURCE_PROVIDER="+provider,
		"OCF_RESKEY_crm_feature_set=3.16.2",
		"OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(timeout.Milliseconds(), 10),
	)
	if c.Interval > 0 {
		env = append(env, "OCF_RESKEY_CRM_meta_interval="+strconv.FormatInt(c.Interval.Milliseconds(), 10))
	}
	if c.Action != "" {
		env = append(env, "OCF_RESKEY_CRM_meta_name="+c.Action)
	}
	if c.CheckLevel != "" {
		env = append(env, "OCF_CHECK_LEVEL="+c.CheckLevel)
	}
	for _, k := range sortedKeys(c.Meta) {
		env = append(env, "OCF_RESKEY_CRM_meta_"+strings.ReplaceAll(k, "-", "_")+"="+c.Meta[k])
	}
	for _, k := range sortedKeys(c.Params) {
		env = append(env, "OCF_RESKEY_"+k+"="+c.Params[k])
	}
	return append(env, c.ExtraEnv...)
}

func (c *Call) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 20 * time.Second
}

// Run starts the agent in its own process group with stdin from /dev/null,
// and SIGKILLs the whole group when the timeout expires, as execd does.
func (c *Call) Run(ctx context.Context) (*CallResult, error) {
	argv0 := c.Argv0
	if argv0 == "" {
		argv0 = c.Path
	}
	var cmd *exec.Cmd
	if len(c.Wrap) > 0 {
		args := append(append([]string{}, c.Wrap[1:]...), c.Path, c.Action)
		cmd = exec.Command(c.Wrap[0], args...)
	} else {
		cmd = exec.Command(c.Path, c.Action)
		cmd.Args[0] = argv0
	}
	cmd.Env = c.Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A descendant outside the group holding the pipes must not keep us
	// waiting after the group is gone.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(c.timeout())
	defer timer.Stop()
	res := &CallResult{}
	var werr error
	select {
	case werr = <-done:
	case <-timer.C:
		res.TimedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-done
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return nil, ctx.Err()
	}
	res.Elapsed = time.Since(start)
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	res.Reason = LastExitReason(res.Stderr, "ocf-exit-reason:")
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.Usage = ru
	}
	var ee *exec.ExitError
	switch {
	case werr == nil:
		res.Code = Success
	case errors.As(werr, &ee):
		if ee.Exited() {
			res.Code = Status(ee.ExitCode())
		} else {
			res.Code = ErrGeneric // killed by a signal
		}
	default:
		return nil, werr
	}
	return res, nil
}

// LastExitReason returns what follows the last prefix line of stderr, cut
// to 128 characters like pacemaker-execd does.
func LastExitReason(stderr, prefix string) string {
	reason := ""
	for _, line := range strings.Split(stderr, "\n") {
		if i := strings.Index(line, prefix); i >= 0 {
			reason = line[i+len(prefix):]
		}
	}
	if len(reason) > 128 {
		reason = reason[:128]
	}
	return reason
}

// Describe writes a human summary of a result.
func (r *CallResult) Describe(w io.Writer) {
	fmt.Fprintf(w, "exit code %d (%s) after %s", int(r.Code), r.Code, r.Elapsed.Round(time.Millisecond))
	if r.TimedOut {
		fmt.Fprint(w, ", killed at the timeout")
	}
	fmt.Fprintln(w)
	if r.Reason != "" {
		fmt.Fprintf(w, "exit reason: %s\n", r.Reason)
	}
}

// SelfPath is the running executable, to re-execute this binary as an agent.
func SelfPath() (string, error) { return os.Executable() }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
