//go:build system

package fusehang

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/proc"
)

const subtype = "fusehangtest"

var seq atomic.Int64

// patience bounds the waits for what happens at once on an idle machine:
// a killed or released process exits, an unmount call answers, a process
// reaches its wait on the hung filesystem. Only a bug makes them take this
// long; a loaded machine does not.
const patience = 30 * time.Second

// requireFUSE skips the test unless it can mount FUSE filesystems; under
// CI=true it fails instead, so that CI cannot silently skip it.
func requireFUSE(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := os.Stat("/dev/fuse"); err != nil {
		why = "/dev/fuse missing"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("FUSE tests need root and /dev/fuse: %s", why)
	}
	t.Skipf("FUSE tests need root and /dev/fuse: %s", why)
}

// mountinfoLine is the /proc/self/mountinfo entry for a mount point.
type mountinfoLine struct{ dev, fstype, source string }

func mountsAt(t *testing.T, dir string) []mountinfoLine {
	t.Helper()
	mounts, err := mountinfo.Read()
	if err != nil {
		t.Fatal(err)
	}
	var ms []mountinfoLine
	for _, m := range mounts {
		if m.Point == dir {
			ms = append(ms, mountinfoLine{dev: fmt.Sprintf("%d:%d", m.Major, m.Minor), fstype: m.FSType, source: m.Source})
		}
	}
	return ms
}

// fuseFDs counts the open /dev/fuse descriptors of process pid.
func fuseFDs(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == "/dev/fuse" {
			n++
		}
	}
	return n
}

// mount mounts a fresh filesystem and checks, at cleanup, that Close
// leaves no mount, no /dev/fuse descriptor and no goroutine behind.
func mount(t *testing.T) *Server {
	t.Helper()
	requireFUSE(t)
	goroutines := runtime.NumGoroutine()
	fds := fuseFDs(t, os.Getpid())
	dir := filepath.Join(t.TempDir(), "mnt")
	fsname := fmt.Sprintf("fusehang-%d-%d", os.Getpid(), seq.Add(1))

	start := time.Now()
	s, err := Mount(dir, fsname, subtype)
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Logf("Mount took %v (dev %s)", time.Since(start), s.Dev)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if ms := mountsAt(t, s.Dir); len(ms) != 0 {
			t.Errorf("still mounted after Close: %+v", ms)
		}
		if s.watchdog != nil {
			t.Errorf("watchdog (pid %d) still running after Close", s.watchdog.Process.Pid)
		}
		if n := fuseFDs(t, os.Getpid()); n != fds {
			t.Errorf("%d /dev/fuse descriptors open after Close, want %d", n, fds)
		}
		deadline := time.Now().Add(patience)
		for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines after Close, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
		}
	})
	return s
}

// alignedBuf returns a zeroed n-byte buffer aligned for O_DIRECT.
// mountWithFile mounts a server holding "somefile" (hello) and returns
// the file's path.
func mountWithFile(t *testing.T) (*Server, string) {
	t.Helper()
	s := mount(t)
	file := filepath.Join(s.Dir, "somefile")
	if err := os.WriteFile(file, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, file
}

func alignedBuf(n int) []byte {
	const align = 4096
	b := make([]byte, n+align)
	off := int(align - uintptr(unsafe.Pointer(&b[0]))%align)
	return b[off%align : off%align+n]
}

// child is a child process whose exit is observed in the background.
type child struct {
	cmd    *proc.Cmd
	out    bytes.Buffer
	exited chan struct{}
	err    error
	at     time.Time
	// heldBefore is held() before the process could send a request
	// (start sets it; see waitBlocked).
	heldBefore int
}

func start(t *testing.T, name string, args ...string) *child {
	t.Helper()
	p := &child{cmd: proc.Command(context.Background(), name, args...), heldBefore: held()}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.watch(t)
	return p
}

// watch observes the exit of p's started command in the background, and
// kills it at cleanup.
func (p *child) watch(t *testing.T) {
	p.exited = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		p.at = time.Now()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(patience):
			t.Errorf("%v (pid %d) still running at cleanup", p.cmd.Args, p.cmd.Process.Pid)
		}
	})
}

// released waits for p to exit and reports whether it did within
// patience.
func (p *child) released() bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(patience):
		return false
	}
}

// fuseWait returns the state (R, S, D...) and the wait channel of
// process pid, and whether it waits in the kernel for an answer of a FUSE
// server.
func fuseWait(pid int) (state, wchan string, waiting bool) {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	w, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		state = string(stat[i+2])
	}
	wchan = string(w)
	return state, wchan, wchan == "request_wait_answer" || strings.Contains(wchan, "fuse")
}

// held returns how many requests wait in the gate of a hung server of
// this process (the tests serve their filesystems themselves): requests
// read from /dev/fuse, which their callers can no longer simply drop, as
// they can one still queued in the kernel.
func held() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte(".(*Server).gate("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// waitBlocked waits until p waits in the kernel for the hung server (in
// state state, when not "") and the server holds one more request than
// before p could send one (p's: while hung, requests only leave the gate
// when their caller dies), and fails the test if p exits first or never
// gets there. It waits for the fact, not for a fixed time: a process that
// a loaded machine is slow to start is neither taken for one that did not
// block, nor signalled or killed before it is where the test means it to
// be.
func (p *child) waitBlocked(t *testing.T, state string) {
	t.Helper()
	n := p.heldBefore + 1
	deadline := time.Now().Add(patience)
	for {
		select {
		case <-p.exited:
			t.Fatalf("%v did not wait on the hung filesystem: it exited (%v): %s", p.cmd.Args, p.err, p.out.String())
		default:
		}
		st, wchan, waiting := fuseWait(p.cmd.Process.Pid)
		h := held()
		if waiting && (state == "" || st == state) && h >= n {
			t.Logf("%v blocked: state %s, wchan %s; %d requests held", p.cmd.Args, st, wchan, h)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v not waiting on the hung filesystem (in state %q, %d requests held) after %v: state %s, wchan %q, %d held",
				p.cmd.Args, state, n, patience, st, wchan, h)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// blocked reports whether p is still running after d, and logs where. It
// checks that something does not end a wait: on a loaded machine it may
// miss a wrong end, never report one that did not happen.
func (p *child) blocked(t *testing.T, d time.Duration) bool {
	t.Helper()
	select {
	case <-p.exited:
		t.Logf("%v exited: %v: %s", p.cmd.Args, p.err, p.out.String())
		return false
	case <-time.After(d):
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	wchan, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", p.cmd.Process.Pid))
	state := ""
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		state = string(stat[i+2])
	}
	t.Logf("%v blocked: state %s, wchan %s", p.cmd.Args, state, wchan)
	return true
}

func TestMountDirectIO(t *testing.T) {
	s := mount(t)

	ms := mountsAt(t, s.Dir)
	if len(ms) != 1 || ms[0].fstype != "fuse."+subtype || ms[0].source != s.FSName || ms[0].dev != s.Dev {
		t.Fatalf("mountinfo for %s: %+v, want fstype fuse.%s, source %s, dev %s", s.Dir, ms, subtype, s.FSName, s.Dev)
	}
	var st unix.Stat_t
	if err := unix.Stat(s.Dir, &st); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev)); got != s.Dev || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Fatalf("stat %s: dev %s mode %o, want dev %s, a directory", s.Dir, got, st.Mode, s.Dev)
	}

	sub := filepath.Join(s.Dir, ".monitor")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(sub, "status")
	want := alignedBuf(4096)
	copy(want, fmt.Sprintf("paceline %d %s\n", os.Getpid(), time.Now()))

	fd, err := unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_DIRECT|unix.O_SYNC, 0o644)
	if err != nil {
		t.Fatalf("open O_DIRECT|O_SYNC for writing: %v", err)
	}
	if n, err := unix.Write(fd, want); err != nil || n != len(want) {
		t.Fatalf("direct write: %d, %v", n, err)
	}
	if err := unix.Fsync(fd); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	if err := unix.Close(fd); err != nil {
		t.Fatalf("close: %v", err)
	}

	fd, err = unix.Open(name, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		t.Fatalf("open O_DIRECT for reading: %v", err)
	}
	got := alignedBuf(4096)
	n, err := unix.Read(fd, got)
	unix.Close(fd)
	if err != nil || n != len(want) || !bytes.Equal(got, want) {
		t.Fatalf("direct read: %d, %v; data equal: %v", n, err, bytes.Equal(got, want))
	}
	if b, err := os.ReadFile(name); err != nil || !bytes.Equal(b, want) {
		t.Fatalf("buffered read back: %d bytes, %v", len(b), err)
	}

	// Overwrite in place through the page cache, then read directly.
	if err := os.WriteFile(name, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(name); err != nil || fi.Size() != 5 || fi.Mode().Perm() != 0o644 {
		t.Fatalf("stat after rewrite: %v, %v", fi, err)
	}
	if err := os.Rename(name, name+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name + ".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(sub); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(s.Dir); err != nil || len(ents) != 0 {
		t.Fatalf("ReadDir after cleanup: %v, %v", ents, err)
	}

	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close took %v", time.Since(start))
	if ms := mountsAt(t, s.Dir); len(ms) != 0 {
		t.Fatalf("still mounted: %+v", ms)
	}
}

func TestHangResume(t *testing.T) {
	s, file := mountWithFile(t)

	s.Hang()
	p := start(t, "cat", file)
	p.waitBlocked(t, "")
	s.Resume()
	if !p.released() {
		t.Fatalf("cat still blocked %v after Resume", patience)
	}
	if p.err != nil || p.out.String() != "hello\n" {
		t.Fatalf("cat after Resume: %v, %q", p.err, p.out.String())
	}
	// Hang and Resume are repeatable.
	s.Hang()
	s.Hang()
	s.Resume()
	s.Resume()
	if b, err := os.ReadFile(file); err != nil || string(b) != "hello\n" {
		t.Fatalf("read after Resume: %q, %v", b, err)
	}
}

func TestHangKillClose(t *testing.T) {
	s, file := mountWithFile(t)
	s.Hang()

	// A reader of a file blocks, and SIGKILL releases it promptly.
	cat := start(t, "cat", file)
	cat.waitBlocked(t, "")
	if n := fuseFDs(t, cat.cmd.Process.Pid); n != 0 {
		t.Errorf("child inherited %d /dev/fuse descriptors", n)
	}
	kill := time.Now()
	cat.cmd.Process.Kill()
	if !cat.released() {
		t.Fatalf("cat blocked on a hung filesystem survived SIGKILL for %v", patience)
	}
	t.Logf("cat exited %v after SIGKILL: %v", cat.at.Sub(kill), cat.err)

	// The mount point itself blocks too: its attributes are not cached.
	statRoot := start(t, "stat", s.Dir)
	statRoot.waitBlocked(t, "")
	statFile := start(t, "stat", filepath.Join(s.Dir, "x"))
	statFile.waitBlocked(t, "")

	// Close while hung returns promptly, unmounts and releases them.
	// Promptly: without waiting out one of its own steps' bound
	// (closeTimeout), which only a server that did not stop would take;
	// how fast it is is no matter here.
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatalf("Close while hung: %v", err)
	}
	closed := time.Now()
	t.Logf("Close while hung took %v", closed.Sub(start))
	if d := closed.Sub(start); d >= closeTimeout {
		t.Errorf("Close while hung took %v, as long as a step's bound (%v)", d, closeTimeout)
	}
	if ms := mountsAt(t, s.Dir); len(ms) != 0 {
		t.Fatalf("still mounted after Close: %+v", ms)
	}
	for _, p := range []*child{statRoot, statFile} {
		if !p.released() {
			t.Errorf("%v still blocked %v after Close", p.cmd.Args, patience)
			continue
		}
		t.Logf("%v released %v after Close: %v: %s", p.cmd.Args, p.at.Sub(start), p.err, strings.TrimSpace(p.out.String()))
		if p.err == nil && p == statFile {
			t.Errorf("%v succeeded after Close", p.cmd.Args)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestKillDuringRead: a process that opened a file before the hang blocks
// in read(2); SIGKILL releases it although its exit then flushes the file.
func TestKillDuringRead(t *testing.T) {
	s, file := mountWithFile(t)
	cmd := proc.Command(context.Background(), "sh", "-c", `exec 3<"$1"; echo opened; read go; exec cat <&3`, "sh", file)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Read only through the pipe above: p.out stays empty.
	p := &child{cmd: cmd}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.watch(t)
	line := make([]byte, 7)
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "opened\n" {
		t.Fatalf("sh: %q, %v", line, err)
	}
	s.Hang()
	p.heldBefore = held()
	io.WriteString(stdin, "go\n")
	// Until then the shell waits on its stdin, not on the filesystem.
	p.waitBlocked(t, "")
	kill := time.Now()
	cmd.Process.Kill()
	if !p.released() {
		t.Fatalf("cat blocked reading a hung filesystem survived SIGKILL for %v", patience)
	}
	t.Logf("cat exited %v after SIGKILL", p.at.Sub(kill))
}
