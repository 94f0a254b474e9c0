package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The command sees the C locale whatever the caller's, and its exit code
// and both output streams come back.
func TestCommandOutput(t *testing.T) {
	t.Setenv("LC_ALL", "de_DE.UTF-8") // Command's own comes later and wins
	out, err := Output(context.Background(), "sh", "-c", `echo "$LC_ALL"; echo err >&2; exit 3`)
	if out != "C\nerr\n" {
		t.Errorf("output %q, want %q", out, "C\nerr\n")
	}
	if code, exited := ExitCode(err); code != 3 || !exited {
		t.Errorf("ExitCode(%v) = %d, %v; want 3, true", err, code, exited)
	}
	if code, exited := ExitCode(nil); code != 0 || !exited {
		t.Errorf("ExitCode(nil) = %d, %v; want 0, true", code, exited)
	}
}

// Env replaced is the whole environment; appended to, the inherited one
// stays.
func TestCommandEnv(t *testing.T) {
	t.Setenv("PROC_TEST_INHERITED", "yes")
	cmd := Command(context.Background(), "sh", "-c", `echo "${PROC_TEST_INHERITED:-unset} $LC_ALL $EXTRA"`)
	cmd.Env = append(cmd.Env, "EXTRA=x")
	if out, err := cmd.Output(); err != nil || string(out) != "yes C x\n" {
		t.Errorf("appended env: %q, %v", out, err)
	}
	cmd = Command(context.Background(), "sh", "-c", `echo "${PROC_TEST_INHERITED:-unset} ${LC_ALL:-none}"`)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := cmd.Output(); err != nil || string(out) != "unset none\n" {
		t.Errorf("replaced env: %q, %v", out, err)
	}
}

// The context kills the command; a killed or unstarted command has no
// exit status.
func TestCommandContextAndExitCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Output(ctx, "sleep", "60")
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("sleep 60 ran %v past its context", took)
	}
	if code, exited := ExitCode(err); code != -1 || !exited {
		t.Errorf("killed: ExitCode(%v) = %d, %v; want -1, true", err, code, exited)
	}
	_, err = Output(context.Background(), "/nonexistent/program")
	if code, exited := ExitCode(err); exited || code != -1 {
		t.Errorf("not started: ExitCode(%v) = %d, %v; want -1, false", err, code, exited)
	}
	if _, exited := ExitCode(errors.New("other")); exited {
		t.Error("ExitCode of an unrelated error says exited")
	}
}

// Run returns the output of a command that succeeds and fails the test,
// naming the command, when it does not.
func TestRun(t *testing.T) {
	if out := Run(t, "sh", "-c", "echo ok"); out != "ok\n" {
		t.Errorf("Run = %q", out)
	}
	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() { // Fatalf ends the goroutine, as it ends a test
		defer close(done)
		Run(ft, "sh", "-c", "echo broken; exit 4")
	}()
	<-done
	if !strings.Contains(ft.msg, "sh -c echo broken; exit 4: exit status 4\nbroken\n") {
		t.Errorf("Run failed with %q", ft.msg)
	}
}

func TestLookPath(t *testing.T) {
	if p, err := LookPath("sh"); err != nil || !strings.HasSuffix(p, "/sh") {
		t.Errorf("LookPath(sh) = %q, %v", p, err)
	}
	if _, err := LookPath("paceline-no-such-program"); err == nil {
		t.Error("LookPath found a program that does not exist")
	}
}

// fatalTB records Fatalf and ends the goroutine, as testing does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
