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

// Spawn runs a helper program as Command does (its own process group,
// killed as a whole when ctx ends, stdin from /dev/null) and returns its
// standard output and error together and its exit code (-1 when it did
// not exit by itself). env is its whole environment.
//
// It starts the program with syscall.ForkExec instead of os/exec: the
// first program os/exec starts in a process costs an extra clone, which
// Go's runtime makes to learn whether pidfds work. For an agent whose
// monitor runs one program, that is the difference between one process
// and two on every call.
// abandonKilled is how long Spawn waits, past its deadline, for a killed
// process to end before it leaves it behind.
const abandonKilled = 500 * time.Millisecond

// lockedBuffer collects a child's output while Spawn may return before
// the reader is done.
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

func Spawn(ctx context.Context, env []string, name string, args ...string) ([]byte, int, error) {
	path := name
	if !strings.Contains(name, "/") {
		p, err := exec.LookPath(name)
		if err != nil {
			return nil, -1, err
		}
		path = p
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, -1, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, -1, err
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, -1, err
	}
	defer r.Close()
	pid, err := syscall.ForkExec(path, append([]string{name}, args...), &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{devnull.Fd(), w.Fd(), w.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	w.Close()
	if err != nil {
		return nil, -1, fmt.Errorf("%s: %w", name, err)
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
	out := &lockedBuffer{}
	readDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, r)
		close(readDone)
	}()
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
	// A process blocked in the kernel (uninterruptible sleep: drbdadm
	// while DRBD waits for its fence-peer handler, a mount on a dead
	// server) dies of SIGKILL only when the kernel lets it go. Past the
	// deadline it gets abandonKilled to do so; then Spawn returns and
	// leaves it (and the pipe a child of it may hold) behind, so that the
	// caller still ends inside its own budget.
	gaveUp := func() ([]byte, int, error) {
		close(stop)
		return out.Bytes(), -1, fmt.Errorf("%s %s: gave up: %w; it did not end when killed (blocked in the kernel), PID %d left behind",
			name, strings.Join(args, " "), ctx.Err(), pid)
	}
	var res waitResult
	select {
	case res = <-waited:
	case <-ctx.Done():
		select {
		case res = <-waited:
		case <-time.After(abandonKilled):
			return gaveUp()
		}
	}
	// A grandchild that kept the pipe open must not hold the caller: the
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
	ws, err := res.ws, res.err
	if err != nil {
		return out.Bytes(), -1, fmt.Errorf("%s: wait: %w", name, err)
	}
	select {
	case <-killed:
		return out.Bytes(), -1, fmt.Errorf("%s %s: gave up: %w", name, strings.Join(args, " "), ctx.Err())
	default:
	}
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return out.Bytes(), 0, nil
	case ws.Exited():
		return out.Bytes(), ws.ExitStatus(), fmt.Errorf("%s: exit status %d", name, ws.ExitStatus())
	}
	return out.Bytes(), -1, fmt.Errorf("%s: %v", name, ws.Signal())
}
