package ocf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestHelperRun(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin", "X=1"}
	out, code, err := spawn(context.Background(), env, "sh", "-c", `echo out $X; echo err >&2; exit 3`)
	if code != 3 || err == nil || !strings.Contains(string(out), "out 1") || !strings.Contains(string(out), "err") {
		t.Fatalf("got %q %d %v", out, code, err)
	}
	out, code, err = spawn(context.Background(), env, "true")
	if code != 0 || err != nil || len(out) != 0 {
		t.Fatalf("true: %q %d %v", out, code, err)
	}
	_, _, err = spawn(context.Background(), env, "/nonexistent/prog")
	if err == nil {
		t.Fatal("a missing program must fail")
	}
	// The deadline kills the whole group, a grandchild holding the pipe
	// included. Had the grandchild survived, Spawn would read until its
	// sleep ends: returning within half of that shows it was killed, with
	// room for any load (the bound is not about speed).
	const sleep = 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, code, err = spawn(ctx, env, "sh", "-c", fmt.Sprintf("sleep %d & sleep %d", int(sleep.Seconds()), int(sleep.Seconds())))
	if code != -1 || err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("timeout: %d %v", code, err)
	}
	if d := time.Since(start); d >= sleep/2 {
		t.Fatalf("Spawn returned after %v: the grandchild holding the pipe was not killed", d)
	}
}

// TestSpawnLeavesWhatCannotBeKilled: a process Spawn cannot end (here a
// grandchild in a session of its own, holding the output pipe; in life a
// process blocked in the kernel) must not hold the caller past its
// deadline: Spawn returns, says what it left behind, with what the
// command wrote so far.
func TestHelperLeavesWhatCannotBeKilled(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	out, code, err := spawn(ctx, env, "sh", "-c", `setsid sh -c 'echo escaped $$; exec sleep 30' & sleep 60`)
	var pid int
	if _, serr := fmt.Sscanf(strings.TrimSpace(string(out)), "escaped %d", &pid); serr == nil && pid > 1 {
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	} else {
		t.Errorf("Spawn returned output %q, want the escaped process's line", out)
	}
	if code != -1 || err == nil || !strings.Contains(err.Error(), "did not end when killed") || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("spawn() = %d, %v; want -1 and an error saying what was left behind", code, err)
	}
}

// spawn runs a helper with env as its whole environment and both streams
// together, as the drbd agent does.
func spawn(ctx context.Context, env []string, name string, args ...string) ([]byte, int, error) {
	out, err := Helper{Path: name, Args: args, Env: env}.Run(ctx)
	return out.Stdout, out.Code, err
}

func TestHelperSplitAndSelf(t *testing.T) {
	env := []string{"PATH=/usr/bin:/bin"}
	out, err := Helper{Path: "sh", Args: []string{"-c", "echo out; echo err >&2; exit 4"}, Env: env, SplitStderr: true}.Run(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 4 || out.Code != 4 {
		t.Errorf("Run() error %v, code %d; want an ExitError of 4", err, out.Code)
	}
	if string(out.Stdout) != "out\n" || string(out.Stderr) != "err\n" {
		t.Errorf("Run() = stdout %q stderr %q, want them apart", out.Stdout, out.Stderr)
	}
	if _, err := (Helper{Path: "/nonexistent/prog"}).Run(context.Background()); err == nil {
		t.Error("a missing program must fail")
	}
}

func TestHelperStart(t *testing.T) {
	pid, err := Helper{Path: "sleep", Args: []string{"30"}, Env: []string{"PATH=/usr/bin:/bin"}}.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, 0, nil)
	}()
	// In this process's group, as an announcer must be.
	pg, err := syscall.Getpgid(pid)
	if err != nil || pg != syscall.Getpgrp() {
		t.Errorf("background helper in group %d (%v), want this process's %d", pg, err, syscall.Getpgrp())
	}
}
