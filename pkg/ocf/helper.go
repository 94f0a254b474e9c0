package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Helper is a program an agent runs: crm_attribute, drbdadm, mount, a
// monitor script, or this binary itself for a hidden command. It is the
// one way agents start processes.
//
// Run gives it a process group of its own, ended as a whole (SIGKILL)
// when the context ends, and /dev/null as standard input. A process the
// kernel will not let die (blocked in uninterruptible sleep: drbdadm while
// DRBD waits for its fence-peer handler, I/O on a dead NFS server) gets
// abandonKilled (200 ms) to end past the deadline; then Run returns and
// leaves it behind, so the action still ends inside its budget.
//
// Processes are started with syscall.ForkExec, not os/exec: the first
// program os/exec starts in a process costs an extra clone (Go's runtime
// probes whether pidfds work). For a monitor that runs one program, that
// is the difference between one process and two.
type Helper struct {
	// Path is the program: a name looked up in PATH, or a path. Empty, it
	// is this binary (os.Executable), and Args start with the hidden
	// command.
	Path string
	Args []string // the arguments, after the program's name
	// Env is the whole environment; nil gives the agent's own.
	Env []string
	// SplitStderr keeps standard error apart (HelperOutput.Stderr, which
	// error messages do not show: a password script's may hold the
	// secret); otherwise both streams go to Stdout, in order.
	SplitStderr bool
}

// HelperOutput is what a helper printed and how it ended.
type HelperOutput struct {
	Stdout, Stderr []byte
	// Code is the exit code, -1 when the helper did not exit by itself
	// (killed at the deadline, or by a signal).
	Code int
}

// LastLine is the last line the helper printed: what a program says
// last is mostly why it failed, and short enough for an exit reason.
func (o HelperOutput) LastLine() string {
	lines := strings.Split(strings.TrimSpace(string(o.Stdout)), "\n")
	return lines[len(lines)-1]
}

// ExitError is a helper that exited with a code other than 0.
type ExitError struct {
	Name string
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("%s: exit status %d", e.Name, e.Code) }

// abandonKilled is how long Run waits, past its deadline, for a killed
// process to end before it leaves it behind: a killed process is gone in
// a few milliseconds unless the kernel holds it, and the action's own
// margin (Margin, 500 ms at the least) must still cover the wait.
const abandonKilled = 200 * time.Millisecond

// name is how the helper appears in messages and in its argv[0].
func (h Helper) name() string {
	if h.Path == "" {
		return "paceline"
	}
	return h.Path
}

// LookPath finds a program on PATH the way Run does. Its error is
// ErrNotFound (errors.Is) when the program is not installed.
func LookPath(program string) (string, error) { return exec.LookPath(program) }

// ErrNotFound is the error of LookPath, and of Run, for a program that is
// not installed.
var ErrNotFound = exec.ErrNotFound

// path resolves the program to run.
func (h Helper) path() (string, error) {
	p := h.Path
	switch {
	case p == "":
		return os.Executable()
	case !strings.Contains(p, "/"):
		return exec.LookPath(p)
	}
	return filepath.Abs(p)
}

func (h Helper) env() []string {
	if h.Env == nil {
		return os.Environ()
	}
	return h.Env
}

// String is the command line, for messages and logs.
func (h Helper) String() string { return strings.TrimSpace(h.name() + " " + strings.Join(h.Args, " ")) }

// Run runs the helper until it exits or ctx ends. The error is nil for an
// exit code of 0, an *ExitError for another code, and says so when the
// helper was killed at the deadline.
func (h Helper) Run(ctx context.Context) (HelperOutput, error) {
	res := HelperOutput{Code: -1}
	path, err := h.path()
	if err != nil {
		return res, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return res, err
	}
	defer devnull.Close()
	stdout := &lockedBuffer{}
	stderr := stdout
	files := []uintptr{devnull.Fd(), 0, 0}
	var readers []*os.File
	var writers []*os.File
	pipe := func() (uintptr, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		readers, writers = append(readers, r), append(writers, w)
		return w.Fd(), nil
	}
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	defer closeAll(readers)
	if files[1], err = pipe(); err != nil {
		closeAll(writers)
		return res, err
	}
	files[2] = files[1]
	if h.SplitStderr {
		stderr = &lockedBuffer{}
		if files[2], err = pipe(); err != nil {
			closeAll(writers)
			return res, err
		}
	}
	pid, err := syscall.ForkExec(path, append([]string{h.name()}, h.Args...), &syscall.ProcAttr{
		Env:   h.env(),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	closeAll(writers)
	if err != nil {
		return res, fmt.Errorf("%s: %w", h.name(), err)
	}
	stop := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Marked before the signal: the wait below may see the child
			// die before this goroutine runs again, and must know why.
			close(killed)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		case <-stop:
		}
	}()
	var reading sync.WaitGroup
	for i, r := range readers {
		into := stdout
		if i == 1 {
			into = stderr
		}
		reading.Add(1)
		go func(r *os.File, into *lockedBuffer) {
			defer reading.Done()
			_, _ = io.Copy(into, r)
		}(r, into)
	}
	readDone := make(chan struct{})
	go func() { reading.Wait(); close(readDone) }()
	type waitResult struct {
		ws  syscall.WaitStatus
		err error
	}
	waited := make(chan waitResult, 1)
	go func() {
		var w waitResult
		for {
			_, w.err = syscall.Wait4(pid, &w.ws, 0, nil)
			if !errors.Is(w.err, syscall.EINTR) {
				break
			}
		}
		waited <- w
	}()
	output := func() HelperOutput {
		res.Stdout = stdout.Bytes()
		if h.SplitStderr {
			res.Stderr = stderr.Bytes()
		}
		return res
	}
	gaveUp := func() (HelperOutput, error) {
		close(stop)
		return output(), fmt.Errorf("%s: gave up: %w; it did not end when killed (blocked in the kernel), PID %d left behind",
			h, ctx.Err(), pid)
	}
	var w waitResult
	select {
	case w = <-waited:
	case <-ctx.Done():
		select {
		case w = <-waited:
		case <-time.After(abandonKilled):
			return gaveUp()
		}
	}
	// A descendant that kept a pipe open must not hold the caller: the
	// group is killed when ctx ends, so reading ends then at the latest.
	select {
	case <-readDone:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		select {
		case <-readDone:
		case <-time.After(abandonKilled):
			return gaveUp()
		}
	}
	close(stop)
	if w.err != nil {
		return output(), fmt.Errorf("%s: wait: %w", h.name(), w.err)
	}
	select {
	case <-killed:
		return output(), fmt.Errorf("%s: gave up: %w", h, ctx.Err())
	default:
	}
	switch {
	case w.ws.Exited() && w.ws.ExitStatus() == 0:
		res.Code = 0
		return output(), nil
	case w.ws.Exited():
		res.Code = w.ws.ExitStatus()
		return output(), &ExitError{Name: h.name(), Code: res.Code}
	}
	return output(), fmt.Errorf("%s: %v", h.name(), w.ws.Signal())
}

// Start starts the helper in the background and returns its PID, for a
// helper that outlives the action (IPaddr2's announcer). It stays in the
// agent's process group, so that the executor's kill of a timed-out action
// takes it along, and its standard streams are /dev/null, so that it never
// holds the executor's pipes. Nobody waits for it: its parent's exit hands
// it to init.
func (h Helper) Start() (int, error) {
	path, err := h.path()
	if err != nil {
		return 0, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	fd := devnull.Fd()
	pid, err := syscall.ForkExec(path, append([]string{h.name()}, h.Args...), &syscall.ProcAttr{
		Env: h.env(), Files: []uintptr{fd, fd, fd},
	})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", h.name(), err)
	}
	return pid, nil
}

// lockedBuffer collects a helper's output while Run may return before the
// readers are done.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written so far.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// ErrNoAnswer is the error of RunChild when the child had not finished
// when ctx ended.
var ErrNoAnswer = errors.New("no answer within the time budget")

// RunChild runs a hidden command of this binary (args[0]) in a child of
// its own, for work on a filesystem that may block in the kernel (a dead
// NFS server, a stalled device): the child is abandoned when ctx ends and
// the action goes on. It returns the child's standard output; an error
// is ErrNoAnswer, the child's own message on standard error (wrapping
// its *ExitError, for the code), or why it could not run.
func RunChild(ctx context.Context, args ...string) ([]byte, error) {
	out, err := Helper{Args: args, SplitStderr: true}.Run(ctx)
	switch {
	case ctx.Err() != nil:
		return out.Stdout, ErrNoAnswer
	case err != nil:
		if msg := strings.TrimSpace(string(out.Stderr)); msg != "" {
			return out.Stdout, fmt.Errorf("%s: %w", msg, err)
		}
		return out.Stdout, err
	}
	return out.Stdout, nil
}
