package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// LibvirtHost is a libvirt host on this machine: a libvirtd of its own
// in private mount, UTS and network namespaces, running TCG guests. Its
// /run, /etc/libvirt (a copy of this machine's), /var/lib/libvirt,
// /var/log/libvirt, /var/cache/libvirt, /etc/hosts and /etc/resolv.conf
// are directories and files under Dir. Its eth0 is on a bridge shared
// with the other hosts of the same StartLibvirtHosts call, with an
// address in 192.0.2.0/24 and no route out; every host's /etc/hosts
// names all of them, so qemu+tcp:// URIs and live migration between
// them work as between real hosts.
type LibvirtHost struct {
	Name   string // its hostname, e.g. "pl4242h1-n1"
	IP     string // its address, 192.0.2.(20+X)
	Dir    string // its private state on this machine
	URI    string // for clients in the root namespace (the unix socket under Dir)
	TCPURI string // qemu+tcp://<Name>/system, for clients inside another host

	nsMnt, nsUTS, nsNet string // bind-mounted files holding its namespaces
	veth                string // the root namespace end of its eth0, on the bridge

	mu     sync.Mutex
	daemon *exec.Cmd     // the running libvirtd (nsenter execs it: same PID)
	done   chan struct{} // closed when daemon has exited
}

// libvirtHosts is the state of one StartLibvirtHosts call, for cleanup.
type libvirtHosts struct {
	prefix    string
	base      string // private dir: ns/ and one dir per host
	nsDir     string // base/ns, a private bind mount holding the namespace files
	nsMounted bool
	bridge    string
	hosts     []*LibvirtHost
}

// libvirtMountTargets are the paths each host gets private copies of.
// They must exist on this machine (libvirt-daemon-system makes the
// libvirt ones); nothing is created outside the private dir.
var libvirtMountTargets = []struct{ sub, target string }{
	{"run", "/run"}, // first: /run need not be a tmpfs here
	{"etc", "/etc/libvirt"},
	{"lib", "/var/lib/libvirt"},
	{"log", "/var/log/libvirt"},
	{"cache", "/var/cache/libvirt"},
	{"hosts", "/etc/hosts"},
	{"resolv.conf", "/etc/resolv.conf"},
}

var libvirtSeq atomic.Int32

// StartLibvirtHosts starts n libvirt hosts (1 to 9) named
// pl<pid>h<seq>-n1, -n2, ... and returns once each daemon answers on its
// URI. A new daemon's qemu capabilities are seeded from the copy kept in
// CacheRoot()/libvirt-caps (probing them takes 8-12 s), which cleanup
// refreshes. Cleanup stops exactly what was started: each libvirtd (by
// the PID of our child), each guest (by the PIDs in the host's
// /run/libvirt/qemu/*.pid, checked to be in its namespace), any other
// process left inside its namespaces; then it deletes the links and the
// bridge, unmounts the namespace files and removes the dirs.
func StartLibvirtHosts(t testing.TB, n int) []*LibvirtHost {
	t.Helper()
	RequireRoot(t, "libvirtd", "virsh", "qemu-system-x86_64", "ip", "nsenter", "unshare")
	if n < 1 || n > 9 {
		t.Fatalf("StartLibvirtHosts: %d hosts; 1 to 9 are possible", n)
	}
	for _, m := range libvirtMountTargets {
		_, err := os.Stat(m.target)
		Require(t, err == nil, "needs %s (libvirt-daemon-system)", m.target)
	}
	s := &libvirtHosts{prefix: fmt.Sprintf("pl%dh%s", os.Getpid(), strconv.FormatInt(int64(libvirtSeq.Add(1)), 36))}
	s.bridge = s.prefix + "-br"
	var err error
	if s.base, err = os.MkdirTemp("", "paceline-libvirt-"+s.prefix+"-"); err != nil {
		t.Fatalf("libvirt hosts: %v", err)
	}
	t.Cleanup(func() { s.cleanup(t) })
	if sock := filepath.Join(s.base, "n9", "run", "libvirt", "libvirt-admin-sock"); len(sock) >= 108 {
		t.Fatalf("libvirt hosts: socket path %s is too long for a unix socket; set a shorter TMPDIR", sock)
	}

	// Holding a mount namespace in a file needs the file on a private
	// mount (else the kernel refuses the bind, fearing a loop).
	s.nsDir = filepath.Join(s.base, "ns")
	if err := os.Mkdir(s.nsDir, 0o755); err != nil {
		t.Fatalf("libvirt hosts: %v", err)
	}
	if err := unix.Mount(s.nsDir, s.nsDir, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("libvirt hosts: bind %s: %v", s.nsDir, err)
	}
	s.nsMounted = true
	if err := unix.Mount("", s.nsDir, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("libvirt hosts: make %s private: %v", s.nsDir, err)
	}
	Run(t, "ip", "link", "add", s.bridge, "type", "bridge")
	Run(t, "ip", "link", "set", s.bridge, "up")

	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s-n%d", s.prefix, i)
		h := &LibvirtHost{
			Name:   name,
			IP:     fmt.Sprintf("192.0.2.%d", 20+i),
			Dir:    filepath.Join(s.base, fmt.Sprintf("n%d", i)),
			TCPURI: "qemu+tcp://" + name + "/system",
			nsMnt:  filepath.Join(s.nsDir, fmt.Sprintf("n%d.mnt", i)),
			nsUTS:  filepath.Join(s.nsDir, fmt.Sprintf("n%d.uts", i)),
			nsNet:  filepath.Join(s.nsDir, fmt.Sprintf("n%d.net", i)),
			veth:   name,
		}
		h.URI = "qemu+unix:///system?socket=" + filepath.Join(h.Dir, "run", "libvirt", "libvirt-sock")
		s.hosts = append(s.hosts, h)
	}
	for _, h := range s.hosts {
		if err := s.setUp(h); err != nil {
			t.Fatalf("libvirt host %s: %v", h.Name, err)
		}
		h.startDaemon(t)
	}
	for _, h := range s.hosts {
		h.waitReady(t, 30*time.Second)
	}
	return s.hosts
}

// setUp makes h's dirs, namespaces and link.
func (s *libvirtHosts) setUp(h *LibvirtHost) error {
	if err := prepareLibvirtState(h.Dir, "", h.Name, h.IP); err != nil {
		return err
	}
	hosts := "127.0.0.1 localhost\n"
	for _, o := range s.hosts {
		hosts += o.IP + " " + o.Name + "\n"
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}

	for _, f := range []string{h.nsMnt, h.nsUTS, h.nsNet} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return err
		}
	}
	if out, err := Output("unshare", "--mount="+h.nsMnt, "--uts="+h.nsUTS, "--net="+h.nsNet,
		"--propagation", "private", "true"); err != nil {
		return fmt.Errorf("unshare: %v\n%s", err, out)
	}
	err := h.inNamespaces(func() error {
		// This namespace's copy of the ns dir would hold the other
		// hosts' namespaces alive as long as this one.
		if err := unix.Unmount(s.nsDir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s inside: %v", s.nsDir, err)
		}
		for _, m := range libvirtMountTargets {
			if err := unix.Mount(filepath.Join(h.Dir, m.sub), m.target, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s on %s: %v", m.sub, m.target, err)
			}
		}
		return unix.Sethostname([]byte(h.Name))
	})
	if err != nil {
		return err
	}
	for _, c := range [][]string{
		{"ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.nsNet},
		{"ip", "link", "set", h.veth, "master", s.bridge, "up"},
		{"nsenter", "--net=" + h.nsNet, "ip", "link", "set", "lo", "up"},
		{"nsenter", "--net=" + h.nsNet, "ip", "addr", "add", h.IP + "/24", "dev", "eth0"},
		{"nsenter", "--net=" + h.nsNet, "ip", "link", "set", "eth0", "up"},
	} {
		if out, err := Output(c[0], c[1:]...); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// prepareLibvirtState makes the private state of a libvirt host named
// name with address ip under dir: run/, etc/ (the /etc/libvirt of the
// userspace root, "" for this machine's, with the settings below), lib/, log/, cache/ (seeded with
// the cached qemu capabilities) and resolv.conf; the caller bind-mounts
// them over /run, /etc/libvirt, /var/lib/libvirt, /var/log/libvirt,
// /var/cache/libvirt and /etc/resolv.conf inside the host's namespaces.
func prepareLibvirtState(dir, root, name, ip string) error {
	for _, sub := range []string{"run", "lib", "log/qemu", "cache/qemu/capabilities"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	if err := copyLibvirtConfig(filepath.Join("/", root, "etc/libvirt"), filepath.Join(dir, "etc")); err != nil {
		return err
	}
	// host_uuid: without DMI the default is random per start, and the
	// machine-id is shared by all namespaces; libvirt refuses to migrate
	// "to the same host".
	if err := appendFile(filepath.Join(dir, "etc", "libvirtd.conf"), fmt.Sprintf(`
# paceline test host %s
listen_tls = 0
listen_tcp = 1
listen_addr = %q
auth_tcp = "none"
host_uuid = %q
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
`, name, ip, randomUUID())); err != nil {
		return err
	}
	// root/root: /dev/kvm is not usable by libvirt-qemu, which made
	// libvirt re-probe qemu on every define. No cgroups: two daemons
	// would share machine/qemu-<id>-<name>. File stdio: no virtlogd.
	if err := appendFile(filepath.Join(dir, "etc", "qemu.conf"), fmt.Sprintf(`
# paceline test host %s
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = %q
`, name, ip)); err != nil {
		return err
	}
	// DNS fails at once instead of timing out.
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		return err
	}
	seedCapabilities(filepath.Join(dir, "cache", "qemu", "capabilities"), root)
	return nil
}

// inNamespaces runs fn on an OS thread that joined h's mount, UTS and
// network namespaces. The thread is never returned to the Go scheduler:
// it ends with fn.
func (h *LibvirtHost) inNamespaces(fn func() error) error {
	var err error
	onDisposableThread(func() {
		// Joining a mount namespace needs a thread with its own root
		// and working directory.
		if err = unix.Unshare(unix.CLONE_FS); err != nil {
			err = fmt.Errorf("unshare CLONE_FS: %v", err)
			return
		}
		// Open all three first: inside the new mount namespace the
		// files are not bind mounts of namespaces.
		var fds []int
		defer func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}()
		for _, p := range []string{h.nsMnt, h.nsUTS, h.nsNet} {
			var fd int
			if fd, err = unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				return
			}
			fds = append(fds, fd)
		}
		for i, kind := range []int{unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWNET} {
			if err = unix.Setns(fds[i], kind); err != nil {
				err = fmt.Errorf("setns %s: %v", []string{h.nsMnt, h.nsUTS, h.nsNet}[i], err)
				return
			}
		}
		err = fn()
	})
	return err
}

// onDisposableThread runs fn on a locked OS thread that ends afterwards,
// so fn may change the thread's namespaces. That thread is never the
// main one: /proc/self follows the main thread, and Go keeps it (parked)
// rather than ending it.
func onDisposableThread(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread while another goroutine gets a
			// different one, then give it back untouched.
			onDisposableThread(fn)
			runtime.UnlockOSThread()
			return
		}
		fn()
		// Returning while locked ends the thread.
	}()
	<-done
}

// nsenter returns the nsenter arguments that run a command inside h.
func (h *LibvirtHost) nsenter() []string {
	return []string{"--mount=" + h.nsMnt, "--uts=" + h.nsUTS, "--net=" + h.nsNet, "--"}
}

// Wrap returns the command prefix that runs a program inside h
// ("nsenter --mount=... --uts=... --net=... --"), e.g. for Agent.Wrap.
func (h *LibvirtHost) Wrap() []string {
	return append([]string{"nsenter"}, h.nsenter()...)
}

// Command returns a command that runs inside h: its mount, UTS and
// network namespaces, where qemu:///system and the other hosts' names
// work. nsenter execs the program, so the process is the program itself.
func (h *LibvirtHost) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append(append(h.nsenter(), name), args...)...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// VirshCommand returns a virsh command talking to h from the root
// namespace (virsh -c h.URI args...).
func (h *LibvirtHost) VirshCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "virsh", append([]string{"-c", h.URI}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C") // the tests read what it prints
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// Virsh runs virsh -c h.URI args... (at most 2 minutes) and returns its
// standard output; it fails the test when virsh fails.
func (h *LibvirtHost) Virsh(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := h.VirshCommand(ctx, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out: %v", ctx.Err())
		}
		t.Fatalf("%s: virsh %s: %v\n%s%s%s", h.Name, strings.Join(args, " "), err, stdout.String(), stderr.String(), h.LogTail())
	}
	return stdout.String()
}

// DaemonPID returns the PID of h's running libvirtd, or 0.
func (h *LibvirtHost) DaemonPID() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.daemon == nil {
		return 0
	}
	return h.daemon.Process.Pid
}

// startDaemon starts libvirtd in h's namespaces, in the foreground as our
// child (so it is reaped, never a zombie), SIGTERMed should the test
// binary die.
func (h *LibvirtHost) startDaemon(t testing.TB) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.daemon != nil {
		t.Fatalf("%s: libvirtd %d is already running", h.Name, h.daemon.Process.Pid)
	}
	argv := append([]string{"nsenter"}, append(h.nsenter(), "libvirtd", "--listen", "--pid-file", "/run/libvirtd.pid")...)
	h.daemon, h.done = startChild(t, argv, "", []string{"LC_ALL=C"}, filepath.Join(h.Dir, "libvirtd.out"), syscall.SIGTERM)
}

// waitReady waits until h's libvirtd answers on its URI.
func (h *LibvirtHost) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	h.mu.Lock()
	done := h.done
	h.mu.Unlock()
	end := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := h.VirshCommand(ctx, "uri").CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		exited := closed(done)
		if exited || time.Now().After(end) {
			t.Fatalf("%s: libvirtd not answering (exited: %v): %v\n%s%s", h.Name, exited, err, out, h.LogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops h's libvirtd (SIGTERM, SIGKILL after 10 s), as a service
// stop would: its guests keep running.
func (h *LibvirtHost) Stop(t testing.TB) {
	t.Helper()
	if err := h.stopDaemon(10 * time.Second); err != nil {
		t.Fatalf("%s: %v", h.Name, err)
	}
}

// Restart starts libvirtd again in h's namespaces after Stop and waits
// until it answers; it reconnects to the guests still running.
func (h *LibvirtHost) Restart(t testing.TB) {
	t.Helper()
	h.startDaemon(t)
	h.waitReady(t, 30*time.Second)
}

// Freeze stops h's libvirtd with SIGSTOP: a hung daemon, whose socket
// still accepts connections. Thaw (or cleanup) resumes it.
func (h *LibvirtHost) Freeze(t testing.TB) {
	t.Helper()
	pid := h.DaemonPID()
	if pid == 0 {
		t.Fatalf("%s: Freeze: libvirtd is not running", h.Name)
	}
	if err := freeze(pid); err != nil {
		t.Fatalf("%s: freeze libvirtd: %v", h.Name, err)
	}
}

// Thaw resumes a libvirtd stopped by Freeze.
func (h *LibvirtHost) Thaw(t testing.TB) {
	t.Helper()
	pid := h.DaemonPID()
	if pid == 0 {
		t.Fatalf("%s: Thaw: libvirtd is not running", h.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatalf("%s: SIGCONT libvirtd %d: %v", h.Name, pid, err)
	}
}

// stopDaemon ends our libvirtd, if running, by its PID.
func (h *LibvirtHost) stopDaemon(grace time.Duration) error {
	h.mu.Lock()
	cmd, done := h.daemon, h.done
	h.daemon, h.done = nil, nil
	h.mu.Unlock()
	if cmd == nil {
		return nil
	}
	return stopChild("libvirtd", cmd, done, grace)
}

// SerialLog is the path, from the root namespace, of the serial file of
// a guest of h defined with the default GuestSpec.SerialPath.
func (h *LibvirtHost) SerialLog(domain string) string {
	return filepath.Join(h.Dir, "log", "qemu", domain+".serial")
}

// WaitSerial waits until the file at path (e.g. SerialLog) contains
// substr, failing the test after timeout.
func (h *LibvirtHost) WaitSerial(t testing.TB, path, substr string, timeout time.Duration) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte(substr)) {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: no %q in %s after %v\n%s%s", h.Name, substr, path, timeout, readTail(path, 10), h.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LastCounter returns the highest n of the "COUNTER n" lines in serial
// (a guest's serial output), or 0.
func LastCounter(serial string) int {
	max := 0
	for _, line := range strings.Split(serial, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "COUNTER" {
				continue
			}
			if n, err := strconv.Atoi(f[i+1]); err == nil && n > max {
				max = n
			}
		}
	}
	return max
}

// LogTail returns the end of h's libvirtd log and output, for failure
// messages.
func (h *LibvirtHost) LogTail() string {
	return readTail(filepath.Join(h.Dir, "log", "libvirtd.log"), 20) + readTail(filepath.Join(h.Dir, "libvirtd.out"), 10)
}

// cleanup undoes StartLibvirtHosts, as far as it got.
func (s *libvirtHosts) cleanup(t testing.TB) {
	t.Helper()
	for _, h := range s.hosts {
		if err := h.stopDaemon(10 * time.Second); err != nil {
			t.Errorf("%s: %v", h.Name, err)
		}
	}
	for _, h := range s.hosts {
		h.killGuests(t)
		h.killLeftovers(t)
	}
	saveCapabilities(t, s.hosts)
	for _, h := range s.hosts {
		if _, err := net.InterfaceByName(h.veth); err == nil {
			if out, err := Output("ip", "link", "del", h.veth); err != nil {
				t.Errorf("%s: ip link del %s: %v\n%s", h.Name, h.veth, err, out)
			}
		}
		for _, f := range []string{h.nsMnt, h.nsUTS, h.nsNet} {
			if err := unmountFile(f); err != nil {
				t.Errorf("%s: %v", h.Name, err)
			}
		}
	}
	if _, err := net.InterfaceByName(s.bridge); err == nil {
		if out, err := Output("ip", "link", "del", s.bridge); err != nil {
			t.Errorf("libvirt hosts: ip link del %s: %v\n%s", s.bridge, err, out)
		}
	}
	if s.nsMounted {
		if err := unmountFile(s.nsDir); err != nil {
			t.Errorf("libvirt hosts: %v", err)
		}
	}
	if mounts, err := mountinfo.Read(); err == nil {
		for _, m := range mounts {
			if m.Point == s.base || strings.HasPrefix(m.Point, s.base+"/") {
				t.Errorf("libvirt hosts: %s is still mounted", m.Point)
				return // keep the dir: removing it would follow the mount
			}
		}
	}
	if err := os.RemoveAll(s.base); err != nil {
		t.Errorf("libvirt hosts: %v", err)
	}
	for _, l := range append([]string{s.bridge}, hostVeths(s.hosts)...) {
		if _, err := net.InterfaceByName(l); err == nil {
			t.Errorf("libvirt hosts: link %s is still there", l)
		}
	}
}

func hostVeths(hosts []*LibvirtHost) []string {
	var l []string
	for _, h := range hosts {
		l = append(l, h.veth)
	}
	return l
}

// unmountFile unmounts a bind mount, lazily when busy; not being mounted
// is fine.
func unmountFile(path string) error {
	err := unix.Unmount(path, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(path, unix.MNT_DETACH)
	}
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %v", path, err)
}

// killGuests ends the qemu processes of h's guests: the PIDs in its
// /run/libvirt/qemu/*.pid that are inside its mount namespace (a stale
// file could name a reused PID). Guests outlive their libvirtd.
func (h *LibvirtHost) killGuests(t testing.TB) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(h.Dir, "run", "libvirt", "qemu", "*.pid"))
	var pids []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 1 || !processAlive(pid) || !h.inMountNS(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	if left := killPIDs(pids, 5*time.Second); len(left) > 0 {
		t.Errorf("%s: guest processes survive SIGKILL: %v", h.Name, left)
	}
}

// killLeftovers ends whatever else still runs inside h's mount namespace
// (a command a test started there and did not wait for): everything in
// that namespace was started for this host.
func (h *LibvirtHost) killLeftovers(t testing.TB) {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !processAlive(pid) || !h.inMountNS(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return
	}
	t.Logf("%s: stopping processes left in its namespace: %v", h.Name, pids)
	if left := killPIDs(pids, 2*time.Second); len(left) > 0 {
		t.Errorf("%s: processes survive SIGKILL: %v", h.Name, left)
	}
}

// inMountNS reports whether pid is in h's mount namespace.
func (h *LibvirtHost) inMountNS(pid int) bool {
	var want, got unix.Stat_t
	if unix.Stat(h.nsMnt, &want) != nil || unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid), &got) != nil {
		return false
	}
	return want.Dev == got.Dev && want.Ino == got.Ino
}

// killPIDs sends SIGTERM to pids, SIGKILL to those alive after grace,
// and returns those still alive 5 s later. A zombie counts as gone
// (orphans wait for this machine's PID 1 to reap them).
func killPIDs(pids []int, grace time.Duration) []int {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	if waitGone(pids, grace) {
		return nil
	}
	for _, pid := range pids {
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	waitGone(pids, 5*time.Second)
	var left []int
	for _, pid := range pids {
		if processAlive(pid) {
			left = append(left, pid)
		}
	}
	return left
}

// processState returns the state letter of pid (R, S, T, Z, ...), or 0.
func processState(pid int) byte {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0
	}
	return data[i+2]
}

// capsCacheSub is CacheRoot()/libvirt-caps: a previous daemon's
// /var/cache/libvirt/qemu/capabilities/*.xml. libvirt checks the copy
// itself (qemu binary, libvirt version, kernel) and probes again when it
// no longer matches.
const capsCacheSub = "libvirt-caps"

// capsCache is the capabilities cache of the daemons of a userspace
// root ("" for this machine's): one apiece, since the files are named
// after the qemu binary's path, the same in each, and each userspace
// would otherwise make the other's daemons probe qemu again.
func capsCache(root string) string {
	if root == "" {
		return capsCacheSub
	}
	return capsCacheSub + "-" + filepath.Base(root)
}

// seedCapabilities copies the cached capabilities of root's daemons
// into dir.
func seedCapabilities(dir, root string) {
	files, _ := filepath.Glob(filepath.Join(CacheRoot(), capsCache(root), "*.xml"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600)
		}
	}
}

// saveCapabilities refreshes the cache from the hosts' capabilities.
func saveCapabilities(t testing.TB, hosts []*LibvirtHost) {
	t.Helper()
	var dirs []string
	for _, h := range hosts {
		dirs = append(dirs, filepath.Join(h.Dir, "cache", "qemu", "capabilities"))
	}
	if err := saveCapabilitiesFrom("", dirs...); err != nil {
		t.Logf("libvirt capabilities cache: %v", err)
	}
}

// saveCapabilitiesFrom refreshes the cache of root's daemons from the
// newest copy of each capabilities file in dirs (libvirt hosts'
// cache/qemu/capabilities).
func saveCapabilitiesFrom(root string, dirs ...string) error {
	latest := map[string]string{} // file name -> newest copy
	mtimes := map[string]time.Time{}
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.xml"))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				continue
			}
			name := filepath.Base(f)
			if st.ModTime().After(mtimes[name]) {
				latest[name], mtimes[name] = f, st.ModTime()
			}
		}
	}
	if len(latest) == 0 {
		return nil
	}
	dir := filepath.Join(CacheRoot(), capsCache(root))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockCacheErr(capsCache(root))
	if err != nil {
		return err
	}
	defer unlock()
	for name, f := range latest {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		dst := filepath.Join(dir, name)
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := ocf.WriteFileAtomic(dst, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// copyLibvirtConfig copies this machine's /etc/libvirt for a test host,
// without its domains, and without autostart links (the default network
// would need dnsmasq).
func copyLibvirtConfig(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && filepath.Base(rel) == "autostart" {
			return fs.SkipDir
		}
		if !d.IsDir() && filepath.Dir(rel) == "qemu" && strings.HasSuffix(rel, ".xml") {
			return nil // a domain of this machine
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
