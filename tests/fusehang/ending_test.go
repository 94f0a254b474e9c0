//go:build system

// The tests of how a hung mount ends: signals to a blocked process,
// unmounting, the death of the server's process, abort, a lazy unmount.

package fusehang

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/tests/proc"
)

// TestSignalWhileHung checks that a caught signal does not end the wait of
// a process blocked on the hung filesystem, while SIGKILL still does even
// after the kernel has spent its one interrupt on the first signal.
func TestSignalWhileHung(t *testing.T) {
	s, file := mountWithFile(t)
	s.Hang()
	// The shell itself opens the file, with a trap for SIGUSR1. Once it
	// waits on the file, the trap is set: the signal cannot come before it
	// (and kill the shell).
	p := start(t, "sh", "-c", `trap "echo trapped" USR1; read x <"$1"; echo "read $x"`, "sh", file)
	p.waitBlocked(t, "")
	p.cmd.Process.Signal(syscall.SIGUSR1)
	// The kernel takes the signal, interrupts the request once and goes on
	// waiting, for a fatal signal only (state D)...
	p.waitBlocked(t, "D")
	// ...and the server does not end the wait on the interrupt.
	if !p.blocked(t, 300*time.Millisecond) {
		t.Fatal("SIGUSR1 ended the wait on a hung filesystem")
	}
	kill := time.Now()
	p.cmd.Process.Kill()
	if !p.released() {
		t.Fatalf("sh blocked on a hung filesystem survived SIGKILL for %v", patience)
	}
	t.Logf("sh exited %v after SIGKILL: %v", p.at.Sub(kill), p.err)

	// After Resume, a signalled caller completes normally.
	p = start(t, "sh", "-c", `trap "echo trapped" USR1; read x <"$1"; echo "read $x"`, "sh", file)
	p.waitBlocked(t, "")
	p.cmd.Process.Signal(syscall.SIGUSR1)
	p.waitBlocked(t, "D") // the kernel has taken the signal
	s.Resume()
	if !p.released() {
		t.Fatalf("sh still blocked %v after Resume", patience)
	}
	if p.err != nil || p.out.String() != "trapped\nread hello\n" {
		t.Fatalf("sh after Resume: %v, %q", p.err, p.out.String())
	}
}

// TestPlainUnmountWhileHung documents how umount(2) without MNT_DETACH
// behaves on a hung mount, with and without a process blocked in it.
func TestPlainUnmountWhileHung(t *testing.T) {
	s := mount(t)
	s.Hang()

	p := start(t, "stat", filepath.Join(s.Dir, "x"))
	p.waitBlocked(t, "")
	err := unmountWithin(t, s.Dir, 0)
	t.Logf("umount with a blocked process: %v", err)
	if !errors.Is(err, unix.EBUSY) {
		t.Errorf("umount with a blocked process: %v, want EBUSY", err)
	}
	p.cmd.Process.Kill()
	<-p.exited

	start := time.Now()
	err = unmountWithin(t, s.Dir, 0)
	t.Logf("umount with nothing blocked: %v after %v", err, time.Since(start))
	if err != nil {
		t.Errorf("umount of an idle hung mount: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after external umount: %v", err)
	}
}

// unmountWithin calls umount(2), failing the test if the call blocks
// (for patience: it answers at once, busy or not).
func unmountWithin(t *testing.T, dir string, flags int) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- unix.Unmount(dir, flags) }()
	select {
	case err := <-ch:
		return err
	case <-time.After(patience):
		t.Fatalf("umount(%s, %#x) blocked for %v", dir, flags, patience)
		return syscall.ETIMEDOUT
	}
}

// TestDeathWhileHung checks the watchdog: a process that dies while one of
// its own threads waits on its own hung filesystem would otherwise stay a
// zombie forever, with the mount stuck.
func TestDeathWhileHung(t *testing.T) {
	requireFUSE(t)
	dir := filepath.Join(t.TempDir(), "mnt")
	cmd := proc.Command(context.Background(), os.Args[0], "-test.run=^TestHelperDieWhileHung$", "-test.v")
	cmd.Env = append(os.Environ(), "FUSEHANG_HELPER_DIR="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The helper starts, mounts, waits until its server holds the request
	// of one of its own threads (up to patience) and dies; the watchdog
	// then needs about a second.
	select {
	case err := <-exited:
		t.Logf("helper exited: %v\n%s", err, out.String())
	case <-time.After(2 * patience):
		// Rescue, so that this test cannot hang forever itself.
		unix.Unmount(dir, unix.MNT_FORCE|unix.MNT_DETACH)
		<-exited
		t.Fatalf("helper did not exit within %v; output:\n%s", 2*patience, out.String())
	}
	if !strings.Contains(out.String(), "helper: dying") {
		t.Fatalf("helper did not get to die while hung:\n%s", out.String())
	}
	deadline := time.Now().Add(patience)
	for len(mountsAt(t, dir)) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ms := mountsAt(t, dir); len(ms) != 0 {
		unix.Unmount(dir, unix.MNT_FORCE|unix.MNT_DETACH)
		t.Fatalf("still mounted after the helper died: %+v", ms)
	}
}

// TestHelperDieWhileHung is run by TestDeathWhileHung in a child process.
func TestHelperDieWhileHung(t *testing.T) {
	dir := os.Getenv("FUSEHANG_HELPER_DIR")
	if dir == "" {
		return
	}
	s, err := Mount(dir, "fusehang-helper", subtype)
	if err != nil {
		t.Fatal(err)
	}
	s.Hang()
	go os.Stat(filepath.Join(s.Dir, "x")) // a thread of this process blocks
	// Die only once the server holds its request: a goroutine that a
	// loaded machine has not run yet, or a request still queued in the
	// kernel (which the dying thread just drops), would leave the watchdog
	// nothing to rescue.
	deadline := time.Now().Add(patience)
	for held() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the helper's own request is not held by its hung server after %v", patience)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("helper: dying")
	os.Exit(3)
}

// fusectlMounts lists the fusectl mounts outside /sys/fs/fuse/connections.
func fusectlMounts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var ms []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.Contains(l, " - fusectl ") && f[4] != "/sys/fs/fuse/connections" {
			ms = append(ms, f[4])
		}
	}
	return ms
}

// TestAbort checks that abort releases a blocked process without touching
// the mount, and says how it did it.
func TestAbort(t *testing.T) {
	s := mount(t)
	s.Hang()
	p := start(t, "stat", filepath.Join(s.Dir, "x"))
	p.waitBlocked(t, "")
	_, minor, _ := strings.Cut(s.Dev, ":")
	want := "private fusectl"
	if _, err := os.Stat("/sys/fs/fuse/connections/" + minor); err == nil {
		want = "fusectl"
	}
	start := time.Now()
	if how := s.abort(); how != want {
		t.Errorf("abort used %q, want %q", how, want)
	}
	if !p.released() {
		t.Fatalf("stat still blocked %v after abort", patience)
	}
	t.Logf("stat released %v after abort: %s", p.at.Sub(start), strings.TrimSpace(p.out.String()))
	if !strings.Contains(p.out.String(), "abort") {
		t.Errorf("stat after abort: %v: %s", p.err, p.out.String())
	}
	if ms := fusectlMounts(t); len(ms) != 0 {
		t.Errorf("fusectl left mounted at %v", ms)
	}
	if ms := mountsAt(t, s.Dir); len(ms) != 1 {
		t.Errorf("abort changed the mount: %+v", ms)
	}
}

// TestCloseAfterLazyUnmount: someone else (an agent's stop) detached the
// hung mount while a process is stuck in it; Close must still end it all.
func TestCloseAfterLazyUnmount(t *testing.T) {
	s := mount(t)
	s.Hang()
	p := start(t, "stat", filepath.Join(s.Dir, "x"))
	p.waitBlocked(t, "")
	if err := unmountWithin(t, s.Dir, unix.MNT_DETACH); err != nil {
		t.Fatalf("umount -l: %v", err)
	}
	if !p.blocked(t, 100*time.Millisecond) {
		t.Fatal("stat released by the lazy unmount alone")
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close after lazy unmount took %v", time.Since(start))
	if !p.released() {
		t.Fatalf("stat still blocked %v after Close", patience)
	}
}
