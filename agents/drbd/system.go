package drbd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// runResult is what a helper program did.
type runResult struct {
	out  []byte // stdout and stderr together
	code int    // exit code; -1 when it did not run or was killed
	err  error  // nil when it exited 0
}

// msg is what the helper said, for exit reasons: its lines joined, without
// drbdadm's "Command '...' terminated with exit code N" trailer and the
// "additional info from kernel:" heading, which say nothing of the cause.
func (r runResult) msg() string {
	var keep []string
	for _, l := range strings.Split(string(r.out), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "additional info from kernel:" ||
			(strings.HasPrefix(l, "Command '") && strings.Contains(l, "terminated with exit code")) {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > 3 {
		keep = keep[len(keep)-3:]
	}
	if len(keep) == 0 {
		if r.err != nil {
			return r.err.Error()
		}
		return ""
	}
	return strings.Join(keep, "; ")
}

// system is the machine as the agent sees it; tests replace the paths and
// the runner.
type system struct {
	procDRBD    string // /proc/drbd
	sysModule   string // /sys/module/drbd
	modulesDir  string // /lib/modules
	drbdsetup84 string // /lib/drbd/drbdsetup-84
	run         func(ctx context.Context, env []string, name string, args ...string) runResult
	lookPath    func(string) (string, error)
	attributes  func(*ocf.Request) *ocf.Attributes // crm_attribute
	// peerPrimaryGrace is how long promote keeps looking while a peer is
	// Primary and only one may be, counted from the start of the action.
	peerPrimaryGrace time.Duration
	// pause is how long loops wait between attempts.
	pause time.Duration
}

func hostSystem() *system {
	return &system{
		procDRBD: "/proc/drbd", sysModule: "/sys/module/drbd", modulesDir: "/lib/modules",
		drbdsetup84: "/lib/drbd/drbdsetup-84",
		run:         runCommand, lookPath: ocf.LookPath,
		attributes:       (*ocf.Request).Attributes,
		peerPrimaryGrace: 10 * time.Second,
		pause:            time.Second,
	}
}

// runCommand runs a helper with env as its whole environment (ocf.Helper:
// its own process group, killed with its children when ctx ends, and no
// extra process to start it).
func runCommand(ctx context.Context, env []string, name string, args ...string) runResult {
	out, err := ocf.Helper{Path: name, Args: args, Env: env}.Run(ctx)
	return runResult{out: out.Stdout, code: out.Code, err: err}
}

// module is what the kernel says about DRBD.
type module struct {
	loaded  bool
	version drbdstate.Version
}

// readModule reads /proc/drbd: it exists when the module is loaded, and
// its first line names the version.
func (s *system) readModule() (module, error) {
	data, err := os.ReadFile(s.procDRBD)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return module{}, nil
		}
		return module{}, ocf.Generic("read %s: %v", s.procDRBD, err)
	}
	v, err := drbdstate.ParseProcDRBD(data)
	if err != nil {
		return module{loaded: true}, ocf.Generic("%v", err)
	}
	return module{loaded: true, version: v}, nil
}

// moduleAvailable reports whether the running kernel could load DRBD: it
// is built in, or modules.dep or modules.builtin names drbd.ko.
func (s *system) moduleAvailable() bool {
	if _, err := os.Stat(s.sysModule); err == nil {
		return true
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	dir := filepath.Join(s.modulesDir, unix.ByteSliceToString(u.Release[:]))
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			name, _, _ := strings.Cut(line, ":")
			base := filepath.Base(strings.TrimSpace(name))
			if base == "drbd.ko" || strings.HasPrefix(base, "drbd.ko.") {
				return true
			}
		}
	}
	return false
}
