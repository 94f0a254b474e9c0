// Package harness is the core every system tier and the programs of
// tests/ share: the prerequisites of a tier (Require, RequireRoot, CI),
// the paceline binaries built or copied once per run (Install), running
// an agent the way pacemaker-execd does (Agent), the cache of what is
// slow to make (CacheRoot), the Debian 13 userspace of the Pacemaker 3
// tiers (TrixieRoot, RootCommand), loop-device filesystems, and the
// testing.TB of programs (ScriptTB).
//
// The components a tier runs against have packages of their own: proc
// (processes, commands in the C locale, polling), netns (veth pairs, capture), guestimage
// (kernel and initramfs), libvirthost, ipmi (BMCs, fenced), gluster,
// pcmk (what both clusters share about Corosync and Pacemaker),
// nscluster (the namespace cluster) and drbdlab (the DRBD guests and
// their cluster). Everything a test creates is removed by t.Cleanup.
package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/agents"
	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/proc"
)

// CI reports whether the tests run under CI, where a skip is a failure.
func CI() bool { return os.Getenv("CI") == "true" }

// Require skips the test when ok is false, or fails it under CI: every
// tier must run there.
func Require(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("prerequisite missing under CI: %s", msg)
	}
	t.Skipf("prerequisite missing: %s", msg)
}

// RequireRoot requires root and the named programs on PATH.
func RequireRoot(t testing.TB, programs ...string) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "needs root")
	for _, p := range programs {
		_, err := proc.LookPath(p)
		Require(t, err == nil, "needs %s (run tests/install-deps.sh)", p)
	}
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Main runs a test package's tests and then removes what Install built:
// call it from TestMain in every package that uses Install (a package
// that brings up a namespace cluster calls nscluster.Main, which ends
// here).
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	return code
}

// Install returns a directory holding the paceline binary and the agent
// links, readable by everyone (ocf-tester runs meta-data as nobody). It
// uses $PACELINE_BIN when set, else builds the binary once per test run.
func Install(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "paceline-bin-")
		if buildErr != nil {
			return
		}
		_ = os.Chmod(buildDir, 0o755)
		// paceline (static), paceline-libvirt (cgo) and paceline-fence
		// (static, IPMI) side by side, as make build leaves them.
		bin := filepath.Join(buildDir, "paceline")
		lvbin := filepath.Join(buildDir, "paceline-libvirt")
		fbin := filepath.Join(buildDir, "paceline-fence")
		if src := os.Getenv("PACELINE_BIN"); src != "" {
			dir := filepath.Dir(src)
			for from, to := range map[string]string{src: bin, filepath.Join(dir, "paceline-libvirt"): lvbin,
				filepath.Join(dir, "paceline-fence"): fbin} {
				data, err := os.ReadFile(from)
				if err != nil {
					buildErr = err
					return
				}
				if buildErr = os.WriteFile(to, data, 0o755); buildErr != nil {
					return
				}
			}
		} else {
			_, file, _, _ := runtime.Caller(0)
			root := filepath.Join(filepath.Dir(file), "..", "..")
			for _, b := range []struct{ out, cgo, tags string }{
				{bin, "CGO_ENABLED=0", ""}, {lvbin, "CGO_ENABLED=1", "libvirt_dlopen"}, {fbin, "CGO_ENABLED=0", "ipmi"},
			} {
				cmd := proc.Command(context.Background(), "go", "build", "-tags", b.tags, "-o", b.out, ".")
				cmd.Dir = root
				cmd.Env = append(os.Environ(), b.cgo)
				out, err := cmd.CombinedOutput()
				if err != nil {
					buildErr = fmt.Errorf("go build: %v\n%s", err, out)
					return
				}
			}
		}
		if buildErr != nil {
			return
		}
		for _, e := range agents.All() {
			target := "paceline"
			if e.Kind == agents.Fence {
				target = "paceline-fence"
			}
			if err := os.Symlink(target, filepath.Join(buildDir, e.Name)); err != nil {
				buildErr = err
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("install paceline: %v", buildErr)
	}
	return buildDir
}

// Agent runs OCF actions of one agent the way pacemaker-execd does,
// optionally inside a network namespace (through "ip netns exec").
type Agent struct {
	Dir      string // from Install
	Type     string // e.g. "IPaddr2"
	Instance string
	Netns    string   // run inside this namespace when set
	Wrap     []string // or under this command (e.g. nsenter ... --)
	Params   map[string]string
	StateDir string // HA_RSCTMP
	LogFile  string // HA_LOGFILE
}

// Call runs one action and returns the executor's view of it.
func (a *Agent) Call(t testing.TB, action string, opts ...CallOpt) *ocf.CallResult {
	t.Helper()
	c := ocf.Call{
		Path: filepath.Join(a.Dir, a.Type), Type: a.Type, Instance: a.Instance, Action: action,
		Params: map[string]string{}, Meta: map[string]string{}, Timeout: 20 * time.Second,
		ExtraEnv: []string{"HA_RSCTMP=" + a.StateDir, "HA_LOGFILE=" + a.LogFile, "HA_LOGFACILITY=none"},
	}
	for k, v := range a.Params {
		c.Params[k] = v
	}
	if a.Netns != "" {
		c.Wrap = []string{"ip", "netns", "exec", a.Netns}
	}
	if a.Wrap != nil {
		c.Wrap = a.Wrap
	}
	for _, o := range opts {
		o(&c)
	}
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("%s %s: %v", a.Type, action, err)
	}
	return res
}

// CallOpt changes one call.
type CallOpt func(*ocf.Call)

// Param sets a parameter for this call only.
func Param(k, v string) CallOpt { return func(c *ocf.Call) { c.Params[k] = v } }

// Interval makes the call a recurring monitor.
func Interval(d time.Duration) CallOpt { return func(c *ocf.Call) { c.Interval = d } }

// Meta sets a meta attribute.
func Meta(k, v string) CallOpt { return func(c *ocf.Call) { c.Meta[k] = v } }

// Timeout sets the operation timeout.
func Timeout(d time.Duration) CallOpt { return func(c *ocf.Call) { c.Timeout = d } }

// Expect fails the test unless the result has the code (and, when given,
// an exit reason containing reason).
func Expect(t testing.TB, res *ocf.CallResult, code ocf.Status, reason string) {
	t.Helper()
	if res.Code != code || !strings.Contains(res.Reason, reason) {
		t.Fatalf("exit %d (%s) reason %q, want %d (%s) with %q\nstderr:\n%s",
			int(res.Code), res.Code, res.Reason, int(code), code, reason, res.Stderr)
	}
}

// CountProcesses reads an strace -f log of execve/clone/fork calls and
// returns the processes created (clones without CLONE_THREAD, forks,
// vforks) and the successful execs.
func CountProcesses(t testing.TB, path string) (forks, execs int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read strace log: %v", err)
	}
	return ParseStrace(string(data))
}

// ParseStrace counts process creations and successful execs in strace
// output.
func ParseStrace(log string) (forks, execs int) {
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, "execve(") && !strings.Contains(line, "= -1"):
			if strings.Contains(line, "<unfinished") || strings.Contains(line, "= 0") {
				execs++
			}
		case strings.Contains(line, "clone(") || strings.Contains(line, "clone3("):
			if strings.Contains(line, "CLONE_THREAD") || strings.Contains(line, "resumed>") {
				continue
			}
			forks++
		case strings.Contains(line, "fork(") && !strings.Contains(line, "resumed>"):
			forks++
		}
	}
	return forks, execs
}
