package proc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Cmd is a command its caller runs and waits for (a daemon the harness
// keeps goes through Start). It is an exec.Cmd, embedded so that callers
// set Stdin, Stdout, Env, Dir, SysProcAttr, WaitDelay and use Run,
// Output, Start, Wait and Process without importing os/exec: this
// package is the one place in tests/ that does.
type Cmd struct{ *exec.Cmd }

// Command returns a command bounded by ctx (killed when it ends), in
// the C locale: Env is this process's environment plus LC_ALL=C, last so
// that it wins, since the tests read what the tools print. Setting Env
// replaces that whole; append to cmd.Env to add a variable.
func Command(ctx context.Context, name string, args ...string) *Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return &Cmd{cmd}
}

// Output runs a command (Command) and returns its standard output and
// standard error, interleaved as it wrote them.
func Output(ctx context.Context, name string, args ...string) (string, error) {
	var b bytes.Buffer
	cmd := Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// Run runs a command (Output) and fails the test, with the command line,
// the error and the output, when it fails. It returns the output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := Output(context.Background(), name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// ExitCode reads the error of a command's Run or Wait: exited is true
// when the process ran and ended, with code its exit status (0 for a
// nil error, -1 when a signal killed it); false when the error says
// something else (the program did not start, the context ended a
// command that then exited 0, its output could not be copied).
func ExitCode(err error) (code int, exited bool) {
	if err == nil {
		return 0, true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true
	}
	return -1, false
}

// LookPath finds a program as Command would: a name with a slash as it
// is, else on PATH.
func LookPath(name string) (string, error) { return exec.LookPath(name) }
