package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// startChild starts argv in dir as our child (reaped, never a zombie),
// with env added to ours, stdout and stderr appended to logPath, in a
// process group of its own, and sent sig should the test binary die. The
// channel is closed when it has exited.
func startChild(t testing.TB, argv []string, dir string, env []string, logPath string, sig syscall.Signal) (*exec.Cmd, chan struct{}) {
	t.Helper()
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("start %s: %v", filepath.Base(argv[0]), err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig}
	return cmd, startLocked(t, cmd, out)
}

// startLocked starts cmd from a goroutine whose OS thread stays locked
// until cmd exits (Pdeathsig follows the thread that forked), waits for
// it there, then closes out; the channel is closed when cmd has exited.
func startLocked(t testing.TB, cmd *exec.Cmd, out *os.File) chan struct{} {
	t.Helper()
	done := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		if out != nil {
			out.Close()
		}
		close(done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	return done
}

// stopChild ends a child we started, by its PID: SIGTERM (and SIGCONT,
// since a frozen process acts on SIGTERM only once resumed), SIGKILL after
// grace. done is closed when it has exited.
func stopChild(name string, cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
		return fmt.Errorf("%s %d ignored SIGTERM for %v; killed", name, cmd.Process.Pid, grace)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s %d survives SIGKILL", name, cmd.Process.Pid)
	}
}

// closed reports whether done (nil: nothing running) is closed.
func closed(done <-chan struct{}) bool {
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// freeze stops pid with SIGSTOP and waits until it is stopped.
func freeze(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP %d: %v", pid, err)
	}
	end := time.Now().Add(5 * time.Second)
	for processState(pid) != 'T' {
		if time.Now().After(end) {
			return fmt.Errorf("%d not stopped after SIGSTOP (state %c)", pid, processState(pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
