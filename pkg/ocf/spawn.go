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
	"syscall"
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
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, r)
		close(readDone)
	}()
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	// A grandchild that kept the pipe open must not hold the caller: the
	// group is killed when ctx ends, so reading ends then at the latest.
	select {
	case <-readDone:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-readDone
	}
	close(stop)
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
