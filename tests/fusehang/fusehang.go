// Package fusehang provides a FUSE filesystem, served by the calling
// (test) process, that can be told to stop answering requests. It lets
// tests exercise code paths that must survive a hung filesystem, such
// as the monitor action of a Filesystem resource agent.
//
// The filesystem lives in memory and supports what such a monitor does:
// stat the mount point, mkdir, create and open files (including with
// O_DIRECT|O_SYNC; such opens are served with FOPEN_DIRECT_IO, so any
// buffer alignment works), write, fsync, read back, rename, unlink and
// rmdir.
//
// Mounting needs root and /dev/fuse. The mount is made with mount(2)
// directly (no fusermount). Attribute and entry caching is disabled, so
// every operation, including a stat of the mount point itself, reaches
// the server and blocks while the server hangs.
//
// A hung server keeps reading requests but does not answer them, except
// that a request whose caller is being killed (SIGKILL or another fatal
// signal) is answered with EINTR. So, as with a FUSE daemon that has
// stopped reading the device, blocked callers can be killed, but other
// signals do not interrupt them.
//
// Goroutines of the serving process may use the filesystem too; while it
// hangs they block until Resume or Close like any other caller. But if the
// serving process dies without Close (a panic, a test timeout) while one
// of its threads waits on its own mount, nothing can answer that thread,
// which then keeps the process from ever exiting. Mount therefore starts a
// small watchdog (/bin/sh, in its own process group; Close stops it) that
// aborts the connection and detaches the mount within about a second of
// the process dying.
package fusehang

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/proc"
)

// maxWrite is the largest READ/WRITE request the server accepts; it is
// also passed to the kernel as max_read.
const maxWrite = 128 * 1024

// closeTimeout bounds each potentially blocking step of Close.
const closeTimeout = 5 * time.Second

// Server is a FUSE filesystem mounted at Dir, backed by memory.
type Server struct {
	// Dir is the absolute, symlink-free mount point.
	Dir string
	// FSName is the mount source shown in /proc/self/mountinfo.
	FSName string
	// Subtype is the FUSE subtype; the fstype is "fuse.<Subtype>"
	// ("fuse" when empty).
	Subtype string
	// Dev is the mount's st_dev as "major:minor"; the minor number names
	// the connection in /sys/fs/fuse/connections.
	Dev string

	srv      *fuse.Server
	done     chan struct{} // closed when srv.Serve has returned
	watchdog *proc.Cmd     // see watchdogScript

	mu     sync.Mutex
	hung   chan struct{} // non-nil while hung; closed by Resume/Close
	closed bool

	closeOnce sync.Once
	closeErr  error
}

// Mount mounts a new, empty filesystem at dir (created if missing) with
// the given fsname and subtype, so that /proc/self/mountinfo shows it with
// fstype "fuse.<subtype>" and source fsname, and starts serving it. The
// mount is nosuid,nodev,allow_other and owned by the caller's uid; the
// root directory has mode 0755. The caller must Close it.
func Mount(dir, fsname, subtype string) (*Server, error) {
	if fsname == "" {
		fsname = "fusehang"
	}
	if strings.ContainsAny(fsname, ", \t\n") || strings.ContainsAny(subtype, ",./ \t\n") {
		return nil, fmt.Errorf("fusehang: invalid fsname %q or subtype %q", fsname, subtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, err
	}
	s := &Server{Dir: abs, FSName: fsname, Subtype: subtype, done: make(chan struct{})}

	// Open the device ourselves (close-on-exec, unlike go-fuse's direct
	// mount) and hand it to go-fuse through its /dev/fd/N convention.
	fd, err := unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fusehang: %w", err)
	}
	fstype := "fuse"
	if subtype != "" {
		fstype += "." + subtype
	}
	opts := fmt.Sprintf("fd=%d,rootmode=40000,user_id=%d,group_id=%d,allow_other,max_read=%d",
		fd, os.Geteuid(), os.Getegid(), maxWrite)
	if err := unix.Mount(fsname, abs, fstype, unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fusehang: mount %s: %w", abs, err)
	}
	if s.Dev, err = mountDev(abs, fstype); err != nil {
		unix.Close(fd) // aborts the connection: nothing serves it
		unix.Unmount(abs, unix.MNT_DETACH)
		return nil, err
	}

	zero := time.Duration(0)
	root := &memDir{}
	root.init(nil, 0o755)
	nodeFS := fs.NewNodeFS(root, &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		Logger:          log.New(io.Discard, "", 0),
	})
	// NewServer owns fd from here on, also when it fails. It answers the
	// kernel's INIT before returning.
	srv, err := fuse.NewServer(&hangFS{RawFileSystem: nodeFS, s: s}, "/dev/fd/"+strconv.Itoa(fd), &fuse.MountOptions{
		FsName:        fsname,
		Name:          subtype,
		MaxWrite:      maxWrite,
		MaxBackground: 12,
		// Once Close aborts the connection, answers to stuck requests fail
		// with ENODEV/ENOENT; go-fuse would log each of them.
		Logger: log.New(io.Discard, "", 0),
	})
	if err != nil {
		unix.Unmount(abs, unix.MNT_FORCE|unix.MNT_DETACH)
		return nil, fmt.Errorf("fusehang: serve: %w", err)
	}
	s.srv = srv
	go func() {
		defer close(s.done)
		srv.Serve()
	}()
	if err := pollHack(abs); err != nil {
		s.Close()
		return nil, fmt.Errorf("fusehang: %w", err)
	}
	if s.watchdog, err = startWatchdog(abs, s.Dev); err != nil {
		s.Close()
		return nil, fmt.Errorf("fusehang: watchdog: %w", err)
	}
	return s, nil
}

// pollHack makes the kernel learn, once, that the server does not support
// POLL. Go's runtime registers every file it opens with epoll while holding
// a P; on a FUSE file that sends a POLL request, and with all Ps so taken
// no goroutine is left to answer it. go-fuse's WaitMount does the same,
// but not for a mount made by the caller. The special name is answered by
// go-fuse itself.
func pollHack(dir string) error {
	fd, err := unix.Open(filepath.Join(dir, ".go-fuse-epoll-hack"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("poll hack: %w", err)
	}
	defer unix.Close(fd)
	_, err = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLPRI | unix.POLLOUT}}, 0)
	if err != nil {
		return fmt.Errorf("poll hack: %w", err)
	}
	return nil
}

// watchdogScript runs beside the serving process. If that process dies
// without Close (a panic, a test timeout), the connection must be aborted:
// a thread of the dying process that waits on its own filesystem can never
// be answered, and it keeps the process from exiting (and so from closing
// /dev/fuse) forever, in state D. The script waits until the process is
// gone or dying (a thread is a zombie or has SIGKILL pending, as exit_group
// leaves them), then aborts the connection and detaches the mount without
// touching the mount's path, which could block.
//
// Arguments: pid, major:minor, mount point as in mountinfo, mount point.
const watchdogScript = `
pid=$1 dev=$2 mp=$3 dir=$4
dying() {
	for f in /proc/$pid/task/*/status; do
		while read -r k v; do
			case $k in
			State:) case $v in Z*) return 0 ;; esac ;;
			SigPnd: | ShdPnd:)
				v=${v%??}
				case ${v#"${v%?}"} in [13579bdf]) return 0 ;; esac
				;;
			esac
		done 2>/dev/null <"$f"
	done
	return 1
}
while [ -d /proc/$pid ] && ! dying; do sleep 1; done
abort() { [ -e "$1/${dev#*:}/abort" ] && echo 1 >"$1/${dev#*:}/abort"; }
if ! abort /sys/fs/fuse/connections 2>/dev/null; then
	c=$(mktemp -d) && {
		mount -t fusectl fusectl "$c" 2>/dev/null && { abort "$c"; umount "$c"; }
		rmdir "$c"
	}
fi
while read -r _ _ mm _ m _; do
	if [ "$mm" = "$dev" ] && [ "$m" = "$mp" ]; then
		exec umount -f -l -c -i -- "$dir"
	fi
done </proc/self/mountinfo
`

func startWatchdog(dir, dev string) (*proc.Cmd, error) {
	esc := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(dir)
	cmd := proc.Command(context.Background(), "/bin/sh", "-c", watchdogScript, "fusehang-watchdog",
		strconv.Itoa(os.Getpid()), dev, esc, dir)
	cmd.Dir = "/"
	// Own process group: a terminal's ^C must not kill it with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// stopWatchdog ends the watchdog and its sleep(1).
func (s *Server) stopWatchdog() {
	if s.watchdog == nil {
		return
	}
	syscall.Kill(-s.watchdog.Process.Pid, syscall.SIGKILL)
	s.watchdog.Wait()
	s.watchdog = nil
}

// Hang makes every later request block: the server stops answering until
// Resume or Close. Requests already being answered complete normally. The
// requests of a caller that is being killed fail with EINTR.
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hung == nil && !s.closed {
		s.hung = make(chan struct{})
	}
}

// Resume ends a Hang: blocked requests and later ones are served.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hung != nil {
		close(s.hung)
		s.hung = nil
	}
}

// gate blocks while the server hangs. It returns OK when the request may be
// served, EINTR when its caller is dying and EIO once closed.
//
// A signal makes the kernel send an interrupt (cancel is closed), but only a
// fatal one ends the wait, as for a FUSE daemon that stopped reading
// /dev/fuse: its pending requests are killable, not interruptible. The
// kernel interrupts a request only once, so after a non-fatal signal gate
// polls for the caller's death.
func (s *Server) gate(cancel <-chan struct{}, pid uint32) fuse.Status {
	var poll <-chan time.Time
	for {
		s.mu.Lock()
		hung, closed := s.hung, s.closed
		s.mu.Unlock()
		if closed {
			return fuse.EIO
		}
		if hung == nil {
			return fuse.OK
		}
		select {
		case <-hung:
		case <-cancel: // nil for requests that cannot be interrupted
			cancel = nil
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			poll = t.C
			if dying(pid) {
				return fuse.EINTR
			}
		case <-poll:
			if dying(pid) {
				return fuse.EINTR
			}
		}
	}
}

// dying reports whether thread pid (a FUSE request's caller) is gone or
// has SIGKILL pending, as every thread of a process killed by a fatal
// signal has.
func dying(pid uint32) bool {
	if pid == 0 { // not visible in our pid namespace: cannot tell
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return true
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			if strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X") {
				return true
			}
		case "SigPnd", "ShdPnd":
			if m, err := strconv.ParseUint(v, 16, 64); err == nil && m&(1<<(unix.SIGKILL-1)) != 0 {
				return true
			}
		}
	}
	return false
}

// Close unblocks all requests (they fail with EIO), unmounts the
// filesystem and waits for the server to stop. If the mount is busy (a
// process is still blocked in it or holds it open), Close aborts the FUSE
// connection, which fails all outstanding requests with ECONNABORTED, and
// unmounts lazily if it still must. Close never hangs; it returns an error
// if the server did not stop within a few seconds. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.mu.Lock()
	s.closed = true
	if s.hung != nil {
		close(s.hung)
		s.hung = nil
	}
	s.mu.Unlock()

	var errs []error
	// A plain unmount succeeds when nothing uses the mount; the kernel
	// then ends the connection itself.
	err := s.timed(func() error { return unix.Unmount(s.Dir, 0) })
	if errors.Is(err, unix.EINVAL) {
		// No longer a mount point: someone else unmounted it, maybe
		// lazily, and processes may still be stuck in it.
		s.abort()
		err = nil
	}
	if err != nil {
		s.abort()
		// Processes released by the abort drop their references soon.
		deadline := time.Now().Add(500 * time.Millisecond)
		for err != nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			err = s.timed(func() error { return unix.Unmount(s.Dir, 0) })
		}
		if err != nil {
			err = s.timed(func() error { return unix.Unmount(s.Dir, unix.MNT_FORCE|unix.MNT_DETACH) })
		}
		if err != nil && !errors.Is(err, unix.EINVAL) { // EINVAL: no longer a mount point
			errs = append(errs, fmt.Errorf("fusehang: unmount %s: %w", s.Dir, err))
		}
	}
	select {
	case <-s.done:
	case <-time.After(closeTimeout):
		s.abort()
		select {
		case <-s.done:
		case <-time.After(closeTimeout):
			errs = append(errs, fmt.Errorf("fusehang: server for %s did not stop", s.Dir))
		}
	}
	if len(errs) == 0 {
		// Otherwise it stays, to clean up when this process exits.
		s.stopWatchdog()
	}
	return errors.Join(errs...)
}

// abort aborts the FUSE connection so that every outstanding and future
// request fails with ECONNABORTED, and reports how. It writes to
// /sys/fs/fuse/connections/<minor>/abort, mounting the fusectl filesystem
// privately for that if it is not mounted there; failing that it uses
// umount2(MNT_FORCE), whose FUSE umount_begin aborts the connection too.
func (s *Server) abort() string {
	_, minor, _ := strings.Cut(s.Dev, ":")
	if s.timed(func() error { return writeAbort("/sys/fs/fuse/connections", minor) }) == nil {
		return "fusectl"
	}
	if s.timed(func() error { return privateAbort(minor) }) == nil {
		return "private fusectl"
	}
	if s.timed(func() error { return unix.Unmount(s.Dir, unix.MNT_FORCE) }) == nil {
		return "umount -f"
	}
	return "none"
}

func writeAbort(ctl, minor string) error {
	f, err := os.OpenFile(filepath.Join(ctl, minor, "abort"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("1"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// privateAbort aborts a connection through a temporary fusectl mount.
func privateAbort(minor string) error {
	dir, err := os.MkdirTemp("", "fusehang-fusectl-")
	if err != nil {
		return err
	}
	defer os.Remove(dir)
	if err := unix.Mount("fusectl", dir, "fusectl", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	return writeAbort(dir, minor)
}

// timed runs f, giving up waiting for it after closeTimeout.
func (s *Server) timed(f func() error) error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(closeTimeout):
		return errors.New("timed out")
	}
}

// mountDev returns the "major:minor" of the topmost mount at dir with the
// given fstype, read from /proc/self/mountinfo (no FUSE request needed).
func mountDev(dir, fstype string) (string, error) {
	mounts, err := mountinfo.Read()
	if err != nil {
		return "", err
	}
	m := mountinfo.At(mounts, dir)
	if m == nil || m.FSType != fstype {
		return "", fmt.Errorf("fusehang: %s (%s) not in /proc/self/mountinfo", dir, fstype)
	}
	return fmt.Sprintf("%d:%d", m.Major, m.Minor), nil
}
