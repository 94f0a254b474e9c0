// Package libvirthost runs libvirt hosts on this machine for the tests:
// each a libvirtd of its own in private mount, UTS and network
// namespaces, running TCG guests (tests/guestimage), the hosts of one
// Start call on a bridge of their own so that live migration between
// them works as between real hosts. PrepareState and SaveCapabilities
// also serve the libvirt daemons of the namespace cluster's nodes
// (tests/nscluster). Its own test, the libvirthost tier, checks it
// against real libvirtd and qemu.
package libvirthost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/netns"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Host is a libvirt host on this machine: a libvirtd of its own in
// private mount, UTS and network namespaces, running TCG guests. Its
// /run, /etc/libvirt (a copy of this machine's), /var/lib/libvirt,
// /var/log/libvirt, /var/cache/libvirt, /etc/hosts and /etc/resolv.conf
// are directories and files under Dir. Its eth0 is on a bridge shared
// with the other hosts of the same Start call, with an address in
// 192.0.2.0/24 and no route out; every host's /etc/hosts names all of
// them, so qemu+tcp:// URIs and live migration between them work as
// between real hosts.
type Host struct {
	Name   string // its hostname, e.g. "pl4242h1-n1"
	IP     string // its address, 192.0.2.(20+X)
	Dir    string // its private state on this machine
	URI    string // for clients in the root namespace (the unix socket under Dir)
	TCPURI string // qemu+tcp://<Name>/system, for clients inside another host

	nsMnt, nsUTS, nsNet string // bind-mounted files holding its namespaces
	veth                string // the root namespace end of its eth0, on the bridge

	daemon proc.Slot // the running libvirtd (nsenter execs it: same PID)
}

// hosts is the state of one Start call, for cleanup.
type hosts struct {
	prefix    string
	base      string // private dir: ns/ and one dir per host
	nsDir     string // base/ns, a private bind mount holding the namespace files
	nsMounted bool
	bridge    string
	hosts     []*Host
}

// hostMounts are the paths each host gets private copies of: /run, the
// libvirt state and /etc/hosts. They must exist on this machine
// (libvirt-daemon-system makes the libvirt ones); nothing is created
// outside the private dir.
var hostMounts = append(append([]Mount{{"run", "/run"}}, StateMounts...), Mount{"hosts", "/etc/hosts"})

var seq atomic.Int32

// Start starts n libvirt hosts (1 to 9) named pl<pid>h<seq>-n1, -n2, ...
// and returns once each daemon answers on its URI. A new daemon's qemu
// capabilities are seeded from the copy kept in the test cache (probing
// them takes 8-12 s), which cleanup refreshes. Cleanup stops exactly
// what was started: each libvirtd (by the PID of our child), each guest
// (by the PIDs in the host's /run/libvirt/qemu/*.pid, checked to be in
// its namespace), any other process left inside its namespaces; then it
// deletes the links and the bridge, unmounts the namespace files and
// removes the dirs.
func Start(t testing.TB, n int) []*Host {
	t.Helper()
	harness.RequireRoot(t, "libvirtd", "virsh", "qemu-system-x86_64", "ip", "nsenter", "unshare")
	if n < 1 || n > 9 {
		t.Fatalf("libvirthost.Start: %d hosts; 1 to 9 are possible", n)
	}
	for _, m := range hostMounts {
		_, err := os.Stat(m.Target)
		harness.Require(t, err == nil, "needs %s (libvirt-daemon-system)", m.Target)
	}
	s := &hosts{prefix: fmt.Sprintf("pl%dh%s", os.Getpid(), strconv.FormatInt(int64(seq.Add(1)), 36))}
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
	proc.Run(t, "ip", "link", "add", s.bridge, "type", "bridge")
	proc.Run(t, "ip", "link", "set", s.bridge, "up")

	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s-n%d", s.prefix, i)
		h := &Host{
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
func (s *hosts) setUp(h *Host) error {
	if err := PrepareState(h.Dir, "", h.Name, h.IP); err != nil {
		return err
	}
	etcHosts := "127.0.0.1 localhost\n"
	for _, o := range s.hosts {
		etcHosts += o.IP + " " + o.Name + "\n"
	}
	if err := os.WriteFile(filepath.Join(h.Dir, "hosts"), []byte(etcHosts), 0o644); err != nil {
		return err
	}

	for _, f := range []string{h.nsMnt, h.nsUTS, h.nsNet} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			return err
		}
	}
	if out, err := proc.Output(context.Background(), "unshare", "--mount="+h.nsMnt, "--uts="+h.nsUTS, "--net="+h.nsNet,
		"--propagation", "private", "true"); err != nil {
		return fmt.Errorf("unshare: %v\n%s", err, out)
	}
	err := netns.Enter(h.namespaces(), func() error {
		// This namespace's copy of the ns dir would hold the other
		// hosts' namespaces alive as long as this one.
		if err := unix.Unmount(s.nsDir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s inside: %v", s.nsDir, err)
		}
		for _, m := range hostMounts {
			if err := unix.Mount(filepath.Join(h.Dir, m.Sub), m.Target, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s on %s: %v", m.Sub, m.Target, err)
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
		if out, err := proc.Output(context.Background(), c[0], c[1:]...); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// namespaces are h's mount, UTS and network namespaces.
func (h *Host) namespaces() []netns.Namespace {
	return []netns.Namespace{{Path: h.nsMnt, Kind: unix.CLONE_NEWNS}, {Path: h.nsUTS, Kind: unix.CLONE_NEWUTS},
		{Path: h.nsNet, Kind: unix.CLONE_NEWNET}}
}

// cleanup undoes Start, as far as it got.
func (s *hosts) cleanup(t testing.TB) {
	t.Helper()
	for _, h := range s.hosts {
		if err := h.daemon.Stop(10 * time.Second); err != nil {
			t.Errorf("%s: %v", h.Name, err)
		}
	}
	var dirs []string
	for _, h := range s.hosts {
		h.killGuests(t)
		h.killLeftovers(t)
		dirs = append(dirs, filepath.Join(h.Dir, "cache", "qemu", "capabilities"))
	}
	if err := SaveCapabilities("", dirs...); err != nil {
		t.Logf("libvirt capabilities cache: %v", err)
	}
	for _, h := range s.hosts {
		if _, err := net.InterfaceByName(h.veth); err == nil {
			if out, err := proc.Output(context.Background(), "ip", "link", "del", h.veth); err != nil {
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
		if out, err := proc.Output(context.Background(), "ip", "link", "del", s.bridge); err != nil {
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
	links := []string{s.bridge}
	for _, h := range s.hosts {
		links = append(links, h.veth)
	}
	for _, l := range links {
		if _, err := net.InterfaceByName(l); err == nil {
			t.Errorf("libvirt hosts: link %s is still there", l)
		}
	}
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
func (h *Host) killGuests(t testing.TB) {
	t.Helper()
	inside := map[int]bool{}
	for _, pid := range proc.InMountNS(h.nsMnt) {
		inside[pid] = true
	}
	files, _ := filepath.Glob(filepath.Join(h.Dir, "run", "libvirt", "qemu", "*.pid"))
	var pids []int
	for _, f := range files {
		if pid := proc.Recorded(f); inside[pid] {
			pids = append(pids, pid)
		}
	}
	if left := proc.Kill(pids, 5*time.Second); len(left) > 0 {
		t.Errorf("%s: guest processes survive SIGKILL: %v", h.Name, left)
	}
}

// killLeftovers ends whatever else still runs inside h's mount namespace
// (a command a test started there and did not wait for): everything in
// that namespace was started for this host.
func (h *Host) killLeftovers(t testing.TB) {
	t.Helper()
	pids := proc.InMountNS(h.nsMnt)
	if len(pids) == 0 {
		return
	}
	t.Logf("%s: stopping processes left in its namespace: %v", h.Name, pids)
	if left := proc.Kill(pids, 2*time.Second); len(left) > 0 {
		t.Errorf("%s: processes survive SIGKILL: %v", h.Name, left)
	}
}
