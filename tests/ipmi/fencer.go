package ipmi

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/netns"
	"github.com/paceline-ha/paceline/tests/proc"
)

// FencerDaemon is the stand-alone fencer the harness runs.
const FencerDaemon = "/usr/lib/pacemaker/pacemaker-fenced"

// FencerSpec describes a stand-alone fencer for StartFencer.
type FencerSpec struct {
	// Agents maps fence agent names ("fence_...") to executables shown
	// as /usr/sbin/<name> inside the fencer's mount namespace (as
	// symbolic links, so a multi-call binary sees its agent name in
	// argv[0]), e.g. "fence_paceline_ipmilan" -> the paceline binary.
	// The stock agents of this machine are there too.
	Agents map[string]string
	// Env is added to pacemaker-fenced's environment, which every agent
	// it runs inherits (e.g. "PYTHONWARNINGS=ignore" for the stock
	// Python agents).
	Env []string
}

// Fencer is a stand-alone pacemaker-fenced (-s: no cluster, no CIB) in
// mount and network namespaces of its own, so that it meets no other
// Pacemaker of this machine: libqb's IPC uses abstract unix sockets,
// which are per network namespace, and files in /dev/shm. Inside, the
// loopback is up; /run and /dev/shm are empty tmpfs (with /run/crm,
// /run/pacemaker and /run/lock); /usr/sbin is an overlay adding the
// spec's agents. The rest of the file system is this machine's, so
// paths under Dir (and under any other temp dir) are the same inside.
// pacemaker-fenced discovers every /usr/sbin/fence_* that is a regular
// file after following symbolic links, and runs it with no arguments
// and the parameters on stdin.
//
// Dir holds fenced.log (its log file), fenced.out (its stdout and
// stderr) and sbin (the overlay's upper and work dirs, on a tmpfs
// mounted only inside). A holder process (sleep) keeps the namespaces;
// pacemaker-fenced runs in them as our child. Cleanup stops the fencer,
// anything else left in the mount namespace, then the holder, by PID;
// the namespaces and their mounts end with it.
//
// Timings on this machine: StartFencer 20-80 ms; stonith_admin -R 60-70
// ms with fence_ipmilan (the first registration of an agent runs its
// meta-data); -F / -U with fence_ipmilan against a simulated BMC 2.2 s
// (its power_wait is 2 s).
type Fencer struct {
	Dir string

	env []string

	holder *proc.Proc
	mntNS  string // /proc/<holder>/ns/mnt
	netNS  string // /proc/<holder>/ns/net

	fenced proc.Slot // the running pacemaker-fenced
}

// StartFencer starts pacemaker-fenced in new namespaces and waits until
// stonith_admin -L answers inside.
func StartFencer(t testing.TB, spec FencerSpec) *Fencer {
	t.Helper()
	harness.RequireRoot(t, "nsenter", "sleep", "stonith_admin")
	_, err := os.Stat(FencerDaemon)
	harness.Require(t, err == nil, "needs %s (pacemaker)", FencerDaemon)
	for name, path := range spec.Agents {
		if !strings.HasPrefix(name, "fence_") || strings.ContainsRune(name, '/') {
			t.Fatalf("StartFencer: agent name %q: the fencer only finds /usr/sbin/fence_*", name)
		}
		if !filepath.IsAbs(path) {
			t.Fatalf("StartFencer: agent %s: %q is not an absolute path", name, path)
		}
		if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			t.Fatalf("StartFencer: agent %s: %s is not an executable file (%v)", name, path, err)
		}
	}
	dir, err := os.MkdirTemp("", "paceline-fenced-")
	if err != nil {
		t.Fatalf("StartFencer: %v", err)
	}
	f := &Fencer{Dir: dir, env: append([]string(nil), spec.Env...)}
	t.Cleanup(func() { f.cleanup(t) })

	f.startHolder(t)
	if err := f.setUp(spec.Agents); err != nil {
		t.Fatalf("fencer: set up its namespaces: %v", err)
	}
	f.startFenced(t)
	err = proc.Until(20*time.Second, 50*time.Millisecond, func() error {
		out, rc := f.StonithAdmin(t, 5*time.Second, "-L")
		switch {
		case rc == 0:
			return nil
		case f.fenced.Exited():
			return proc.Abort(fmt.Errorf("rc %d (fenced exited)\n%s", rc, out))
		}
		return fmt.Errorf("rc %d\n%s", rc, out)
	})
	if err != nil {
		t.Fatalf("fencer: stonith_admin -L: %v\n%s", err, f.LogTail())
	}
	return f
}

// startHolder starts the process that holds the new namespaces. Go
// makes the new mount namespace's mounts private (Unshareflags) before
// it execs, so nothing mounted inside reaches this machine.
func (f *Fencer) startHolder(t testing.TB) {
	t.Helper()
	p, err := proc.Start(proc.Spec{
		Argv: []string{"sleep", "infinity"}, Dir: "/",
		Unshareflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET, DeathSignal: syscall.SIGKILL,
	})
	if err != nil {
		t.Fatalf("fencer: %v", err)
	}
	f.holder = p
	f.mntNS = fmt.Sprintf("/proc/%d/ns/mnt", p.PID())
	f.netNS = fmt.Sprintf("/proc/%d/ns/net", p.PID())
}

// setUp makes the fencer's world inside the holder's namespaces.
func (f *Fencer) setUp(agents map[string]string) error {
	sbin := filepath.Join(f.Dir, "sbin")
	if err := os.Mkdir(sbin, 0o700); err != nil {
		return err
	}
	return netns.Enter([]netns.Namespace{{Path: f.mntNS, Kind: unix.CLONE_NEWNS}, {Path: f.netNS, Kind: unix.CLONE_NEWNET}},
		func() error {
			if err := fencerMounts(sbin, agents); err != nil {
				return err
			}
			return netns.LoopbackUp()
		})
}

// fencerMounts runs inside the fencer's mount namespace.
func fencerMounts(sbin string, agents map[string]string) error {
	for _, m := range []struct{ target, data string }{
		{"/run", "mode=0755"},
		{"/dev/shm", "mode=1777"},
		{sbin, "mode=0700"},
	} {
		if err := unix.Mount("tmpfs", m.target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, m.data); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %v", m.target, err)
		}
	}
	for _, d := range []string{"/run/crm", "/run/pacemaker", "/run/lock", sbin + "/upper", sbin + "/work"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	for name, path := range agents {
		if err := os.Symlink(path, filepath.Join(sbin, "upper", name)); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=/usr/sbin,upperdir=%s/upper,workdir=%s/work", sbin, sbin)
	if err := unix.Mount("overlay", "/usr/sbin", "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on /usr/sbin (%s): %v", opts, err)
	}
	return nil
}

// startFenced starts pacemaker-fenced inside, as our child (nsenter
// execs it: same PID).
func (f *Fencer) startFenced(t testing.TB) {
	t.Helper()
	p, err := proc.Start(proc.Spec{
		Argv: append(f.Wrap(), FencerDaemon, "-s", "-l", filepath.Join(f.Dir, "fenced.log")), Dir: "/",
		Env: append([]string{"LC_ALL=C"}, f.env...), Log: filepath.Join(f.Dir, "fenced.out"), DeathSignal: syscall.SIGTERM,
	})
	if err != nil {
		t.Fatalf("fencer: %v", err)
	}
	f.fenced.Set(p)
}

// PID returns the PID of the running pacemaker-fenced, or 0.
func (f *Fencer) PID() int { return f.fenced.PID() }

// Wrap returns the command prefix that runs a program inside the
// fencer's mount and network namespaces: "nsenter --mount=... --net=...
// --". nsenter execs the program (same PID). Use it as BMCSpec.Wrap to
// put a BMC on the fencer's loopback, or as Agent.Wrap.
func (f *Fencer) Wrap() []string {
	return []string{"nsenter", "--mount=" + f.mntNS, "--net=" + f.netNS, "--"}
}

// Command returns a command that runs inside the fencer's namespaces.
func (f *Fencer) Command(ctx context.Context, name string, args ...string) *proc.Cmd {
	argv := append(append(f.Wrap(), name), args...)
	cmd := proc.Command(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// StonithAdmin runs stonith_admin args... inside, killed after timeout,
// and returns its combined output and exit code (-1 when it was killed
// or did not run; out then says why).
func (f *Fencer) StonithAdmin(t testing.TB, timeout time.Duration, args ...string) (out string, rc int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var b bytes.Buffer
	cmd := f.Command(ctx, "stonith_admin", args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	code, exited := proc.ExitCode(err)
	switch {
	case ctx.Err() != nil:
		return b.String() + fmt.Sprintf("\n(stonith_admin %s killed after %v)", strings.Join(args, " "), timeout), -1
	case exited && code >= 0:
		return b.String(), code
	default:
		return b.String() + fmt.Sprintf("\n(stonith_admin: %v)", err), -1
	}
}

// AddAgent adds (or replaces) /usr/sbin/<name> inside, as a symbolic
// link to path, for devices registered from now on.
func (f *Fencer) AddAgent(t testing.TB, name, path string) {
	t.Helper()
	if !strings.HasPrefix(name, "fence_") || strings.ContainsRune(name, '/') || !filepath.IsAbs(path) {
		t.Fatalf("fencer: AddAgent(%q, %q): want fence_<name> and an absolute path", name, path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := f.Command(ctx, "ln", "-sfn", path, "/usr/sbin/"+name).CombinedOutput(); err != nil {
		t.Fatalf("fencer: AddAgent %s: %v\n%s", name, err, out)
	}
}

// Log returns the fencer's log file.
func (f *Fencer) Log() string {
	data, _ := os.ReadFile(filepath.Join(f.Dir, "fenced.log"))
	return string(data)
}

// LogTail returns the end of the fencer's log and output, for failure
// messages.
func (f *Fencer) LogTail() string {
	return harness.Tail(filepath.Join(f.Dir, "fenced.log"), 30) + harness.Tail(filepath.Join(f.Dir, "fenced.out"), 10)
}

// cleanup undoes StartFencer, as far as it got.
func (f *Fencer) cleanup(t testing.TB) {
	t.Helper()
	if t.Failed() {
		t.Logf("fencer in %s:\n%s", f.Dir, f.LogTail())
	}
	if err := f.fenced.Stop(10 * time.Second); err != nil {
		t.Errorf("fencer: %v", err)
	}
	if f.holder != nil {
		// Agents still running, BMCs in its namespace not stopped...
		// everything in the mount namespace was started for it.
		var left []int
		for _, pid := range proc.InMountNS(f.mntNS) {
			if pid != f.holder.PID() {
				left = append(left, pid)
			}
		}
		if len(left) > 0 {
			t.Logf("fencer: stopping processes left in its namespace: %v", left)
			if alive := proc.Kill(left, 2*time.Second); len(alive) > 0 {
				t.Errorf("fencer: processes survive SIGKILL: %v", alive)
			}
		}
		if err := f.holder.Kill(); err != nil {
			t.Errorf("fencer: holder: %v", err)
			return
		}
	}
	// The mounts were never visible here; check anyway before removing
	// the dir (RemoveAll would follow a mount).
	if mounts, err := mountinfo.Read(); err == nil {
		for _, m := range mounts {
			if m.Point == f.Dir || strings.HasPrefix(m.Point, f.Dir+"/") || m.Point == "/usr/sbin" {
				t.Errorf("fencer: %s is mounted in this namespace", m.Point)
				return
			}
		}
	}
	if err := os.RemoveAll(f.Dir); err != nil {
		t.Errorf("fencer: %v", err)
	}
}
