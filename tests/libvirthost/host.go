package libvirthost

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

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// nsenter returns the nsenter arguments that run a command inside h.
func (h *Host) nsenter() []string {
	return []string{"--mount=" + h.nsMnt, "--uts=" + h.nsUTS, "--net=" + h.nsNet, "--"}
}

// Wrap returns the command prefix that runs a program inside h
// ("nsenter --mount=... --uts=... --net=... --"), e.g. for Agent.Wrap.
func (h *Host) Wrap() []string {
	return append([]string{"nsenter"}, h.nsenter()...)
}

// Command returns a command that runs inside h: its mount, UTS and
// network namespaces, where qemu:///system and the other hosts' names
// work. nsenter execs the program, so the process is the program itself.
func (h *Host) Command(ctx context.Context, name string, args ...string) *proc.Cmd {
	cmd := proc.Command(ctx, "nsenter", append(append(h.nsenter(), name), args...)...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// VirshCommand returns a virsh command talking to h from the root
// namespace (virsh -c h.URI args...), in the C locale: the tests read
// what it prints.
func (h *Host) VirshCommand(ctx context.Context, args ...string) *proc.Cmd {
	cmd := proc.Command(ctx, "virsh", append([]string{"-c", h.URI}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Virsh runs virsh -c h.URI args... (at most 2 minutes) and returns its
// standard output; it fails the test when virsh fails.
func (h *Host) Virsh(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := h.VirshCommand(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out: %v", ctx.Err())
		}
		t.Fatalf("%s: virsh %s: %v\n%s%s%s", h.Name, strings.Join(args, " "), err, stdout.String(), stderr.String(), h.LogTail())
	}
	return stdout.String()
}

// DaemonPID returns the PID of h's running libvirtd, or 0.
func (h *Host) DaemonPID() int { return h.daemon.PID() }

// startDaemon starts libvirtd in h's namespaces, in the foreground as our
// child (so it is reaped, never a zombie), SIGTERMed should the test
// binary die.
func (h *Host) startDaemon(t testing.TB) {
	t.Helper()
	if pid := h.daemon.PID(); pid != 0 {
		t.Fatalf("%s: libvirtd %d is already running", h.Name, pid)
	}
	p, err := proc.Start(proc.Spec{
		Argv: append(h.Wrap(), "libvirtd", "--listen", "--pid-file", "/run/libvirtd.pid"),
		Env:  []string{"LC_ALL=C"}, Log: filepath.Join(h.Dir, "libvirtd.out"), DeathSignal: syscall.SIGTERM,
	})
	if err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
	h.daemon.Set(p)
}

// waitReady waits until h's libvirtd answers on its URI.
func (h *Host) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	daemon := h.daemon.Get()
	err := proc.Until(timeout, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := h.VirshCommand(ctx, "uri").CombinedOutput()
		switch {
		case err == nil:
			return nil
		case daemon.Exited():
			return proc.Abort(fmt.Errorf("libvirtd exited: %v\n%s", err, out))
		}
		return fmt.Errorf("%v\n%s", err, out)
	})
	if err != nil {
		t.Fatalf("%s: libvirtd not answering: %v%s", h.Name, err, h.LogTail())
	}
}

// Stop stops h's libvirtd (SIGTERM, SIGKILL after 10 s), as a service
// stop would: its guests keep running.
func (h *Host) Stop(t testing.TB) {
	t.Helper()
	if err := h.daemon.Stop(10 * time.Second); err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
}

// Restart starts libvirtd again in h's namespaces after Stop and waits
// until it answers; it reconnects to the guests still running.
func (h *Host) Restart(t testing.TB) {
	t.Helper()
	h.startDaemon(t)
	h.waitReady(t, 30*time.Second)
}

// Freeze stops h's libvirtd with SIGSTOP: a hung daemon, whose socket
// still accepts connections. Thaw (or cleanup) resumes it.
func (h *Host) Freeze(t testing.TB) {
	t.Helper()
	if err := h.daemon.Freeze(); err != nil {
		t.Fatalf("%s: freeze libvirtd: %v", h.Name, err)
	}
}

// Thaw resumes a libvirtd stopped by Freeze.
func (h *Host) Thaw(t testing.TB) {
	t.Helper()
	if err := h.daemon.Thaw(); err != nil {
		t.Fatalf("%s: thaw libvirtd: %v", h.Name, err)
	}
}

// SerialLog is the path, from the root namespace, of the serial file of
// a guest of h defined with the default guestimage.Domain.SerialPath.
func (h *Host) SerialLog(domain string) string {
	return filepath.Join(h.Dir, "log", "qemu", domain+".serial")
}

// WaitSerial waits until the file at path (e.g. SerialLog) contains
// substr, failing the test after timeout.
func (h *Host) WaitSerial(t testing.TB, path, substr string, timeout time.Duration) {
	t.Helper()
	err := proc.Until(timeout, 100*time.Millisecond, func() error {
		if data, _ := os.ReadFile(path); !bytes.Contains(data, []byte(substr)) {
			return fmt.Errorf("no %q in %s", substr, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v\n%s%s", h.Name, err, harness.Tail(path, 10), h.LogTail())
	}
}

// LogTail returns the end of h's libvirtd log and output, for failure
// messages.
func (h *Host) LogTail() string {
	return harness.Tail(filepath.Join(h.Dir, "log", "libvirtd.log"), 20) + harness.Tail(filepath.Join(h.Dir, "libvirtd.out"), 10)
}
