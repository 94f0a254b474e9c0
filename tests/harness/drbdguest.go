package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Two qemu TCG guests with real DRBD between them.
//
// Each guest boots the Debian kernel (DebianKernel, whose in-tree DRBD is
// 8.4) with a small initramfs that loads the virtio, 9p, overlay, ext4
// and drbd modules, mounts this machine's / read-only over virtio-9p
// under an overlay with a tmpfs upper layer, and switch_roots into it:
// the guests run the host's own userspace (drbd-utils, e2fsprogs, bash,
// any binary built here), see host paths at the same place, and never
// write to the host. Each has a sparse raw disk seen as /dev/vda and one
// NIC; the two NICs are joined point to point by -netdev dgram over unix
// sockets (guest-a 192.0.2.11/24, guest-b 192.0.2.12/24), so either guest
// can crash and reboot and the link comes back by itself. Commands run
// through a virtio-serial port ("ctl0") read by a bash agent that is the
// guest's PID 1 (drbdAgent); QMP is used for link faults.
//
// The guests' DRBD configuration is the harness's own: /etc/drbd.conf
// includes drbd.d/global_common.conf (usage-count no) and drbd.d/*.res,
// and the host's *.res files are hidden.

// DRBDPairSpec sizes the guests.
type DRBDPairSpec struct {
	DiskMiB int // size of each backing disk (/dev/vda); 64 when 0
	MemMiB  int // guest memory; 256 when 0 (128 boots but is tight)
	// LAN, when set, names a network namespace holding a bridge: each
	// guest then gets a second NIC (eth1, QMP name n1) on a tap device
	// there (LANTap), with the address LANIP, and its qemu runs in that
	// namespace. StartDRBDCluster uses it for the cluster's traffic and
	// the BMCs, apart from the replication link.
	LAN    string
	LANIPs [2]string // the guests' eth1 addresses with prefix, e.g. 198.51.100.11/24
	LANTap [2]string // the tap devices in LAN, made by the caller
	// Root is the userspace the guests run, a Debian root directory
	// (TrixieRoot); empty: this machine's /.
	Root string
}

// DRBDPair is two running DRBD guests.
type DRBDPair struct {
	A, B *DRBDGuest

	dir    string
	kernel string
	initrd string
	spec   DRBDPairSpec

	mu        sync.Mutex
	resources map[string]string // name -> text, rewritten into a rebooted guest
	linkDown  bool
}

// DRBDGuest is one guest of a DRBDPair.
type DRBDGuest struct {
	pair *DRBDPair
	peer *DRBDGuest
	name string // guest-a
	ip   string // 192.0.2.11
	mac  string
	dir  string // its own directory: disk, sockets, logs

	// life serialises boots and halts; mu guards the fields below and
	// is never held for long, so that Running and Exec do not wait for
	// a boot (Exec fails while the guest has no control channel).
	life  sync.Mutex
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	ctl   *ctlConn
	boots int
}

// drbdBootTimeout bounds one boot (qemu start to agent answering); a
// boot takes 8-11 s on two idle cores under TCG.
const drbdBootTimeout = 120 * time.Second

// Guest command timeouts used by the helpers that take none.
const (
	drbdExecTimeout = 60 * time.Second
)

// StartDRBDPair boots guest-a and guest-b in parallel and returns once
// both answer on their control channel. t.Cleanup stops both qemu
// processes and removes every file, also after a failed test (when the
// tail of both consoles is logged first). Skips without root, qemu,
// busybox-static, drbd-utils or the kernel; fails instead under CI.
func StartDRBDPair(t testing.TB, spec DRBDPairSpec) *DRBDPair {
	t.Helper()
	RequireRoot(t, "qemu-system-x86_64", "busybox")
	requireIn(t, spec.Root, "drbdadm", "drbdsetup")
	if spec.DiskMiB == 0 {
		spec.DiskMiB = 64
	}
	if spec.MemMiB == 0 {
		spec.MemMiB = 256
	}
	kernel, initrd := buildDRBDInitrd(t)
	// Short: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "pl-drbd-")
	if err != nil {
		t.Fatalf("drbd pair: %v", err)
	}
	p := &DRBDPair{dir: dir, kernel: kernel, initrd: initrd, spec: spec, resources: map[string]string{}}
	p.A = &DRBDGuest{pair: p, name: "guest-a", ip: "192.0.2.11", mac: "52:54:00:00:02:11", dir: filepath.Join(dir, "a")}
	p.B = &DRBDGuest{pair: p, name: "guest-b", ip: "192.0.2.12", mac: "52:54:00:00:02:12", dir: filepath.Join(dir, "b")}
	p.A.peer, p.B.peer = p.B, p.A
	t.Cleanup(func() { p.cleanup(t) })
	for _, g := range p.Guests() {
		if err := os.MkdirAll(g.dir, 0o700); err != nil {
			t.Fatalf("drbd pair: %v", err)
		}
		disk := filepath.Join(g.dir, "disk.img")
		if err := os.WriteFile(disk, nil, 0o600); err != nil {
			t.Fatalf("drbd pair: %v", err)
		}
		if err := os.Truncate(disk, int64(spec.DiskMiB)<<20); err != nil {
			t.Fatalf("drbd pair: %v", err)
		}
	}
	start := time.Now()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, g := range p.Guests() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.boot(t)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("drbd pair: %v", err)
	}
	t.Logf("drbd pair: both guests up in %v", time.Since(start).Round(10*time.Millisecond))
	return p
}

// Guests returns A and B.
func (p *DRBDPair) Guests() []*DRBDGuest { return []*DRBDGuest{p.A, p.B} }

// Guest returns A (0) or B (1).
func (p *DRBDPair) Guest(i int) *DRBDGuest { return p.Guests()[i] }

func (p *DRBDPair) cleanup(t testing.TB) {
	if t.Failed() {
		for _, g := range p.Guests() {
			t.Logf("%s console (tail):\n%s", g.name, tailFile(g.Console(), 40))
		}
	}
	var wg sync.WaitGroup
	for _, g := range p.Guests() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.halt(func() {}); err != nil {
				t.Errorf("%s: %v", g.name, err)
			}
		}()
	}
	wg.Wait()
	_ = os.RemoveAll(p.dir)
}

// Name is the guest's hostname, "guest-a" or "guest-b".
func (g *DRBDGuest) Name() string { return g.name }

// IP is the guest's address on the link, without prefix length.
func (g *DRBDGuest) IP() string { return g.ip }

// Console is the file the guest's serial console is appended to (all
// boots of the guest, each preceded by a "=== boot N" line).
func (g *DRBDGuest) Console() string { return filepath.Join(g.dir, "console.log") }

// Disk is the guest's backing disk file on the host.
func (g *DRBDGuest) Disk() string { return filepath.Join(g.dir, "disk.img") }

// Running reports whether the guest's qemu is running.
func (g *DRBDGuest) Running() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cmd != nil && !closed(g.done)
}

// boot starts qemu and waits until the agent answers.
func (g *DRBDGuest) boot(t testing.TB) error {
	g.life.Lock()
	defer g.life.Unlock()
	if g.Running() {
		return fmt.Errorf("%s is running", g.name)
	}
	p := g.pair
	idx := 0
	if g == p.B {
		idx = 1
	}
	for _, f := range []string{"net.sock", "ctl.sock", "qmp.sock"} {
		_ = os.Remove(filepath.Join(g.dir, f))
	}
	g.boots++
	if f, err := os.OpenFile(g.Console(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		fmt.Fprintf(f, "\n=== boot %d of %s at %s\n", g.boots, g.name, time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
	argv := []string{"qemu-system-x86_64", "-name", g.name,
		"-accel", "tcg,tb-size=64", "-M", "pc", "-cpu", "max", "-smp", "1",
		"-m", fmt.Sprint(p.spec.MemMiB), "-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", p.kernel, "-initrd", p.initrd,
		"-append", fmt.Sprintf("console=ttyS0 panic=-1 quiet pl.name=%s pl.ip=%s/24", g.name, g.ip),
		"-chardev", "file,id=con0,append=on,path=" + g.Console(), "-serial", "chardev:con0",
		"-virtfs", "local,path=" + filepath.Join("/", p.spec.Root) + ",mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
		"-drive", "file=" + g.Disk() + ",if=none,id=d0,format=raw,cache=unsafe",
		"-device", "virtio-blk-pci,drive=d0",
		"-netdev", "dgram,id=n0,local.type=unix,local.path=" + filepath.Join(g.dir, "net.sock") +
			",remote.type=unix,remote.path=" + filepath.Join(g.peer.dir, "net.sock"),
		"-device", "virtio-net-pci,netdev=n0,mac=" + g.mac,
		"-device", "virtio-rng-pci",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=ctl0,server=on,wait=off,path=" + filepath.Join(g.dir, "ctl.sock"),
		"-device", "virtserialport,chardev=ctl0,name=ctl0",
		"-qmp", "unix:" + filepath.Join(g.dir, "qmp.sock") + ",server=on,wait=off",
	}
	if p.spec.LAN != "" {
		for i := range argv {
			if argv[i] == "-append" {
				argv[i+1] += " pl.lan=" + p.spec.LANIPs[idx]
			}
		}
		argv = append(argv,
			"-netdev", "tap,id=n1,ifname="+p.spec.LANTap[idx]+",script=no,downscript=no",
			"-device", fmt.Sprintf("virtio-net-pci,netdev=n1,mac=52:54:00:00:03:%02x", 0x11+idx))
		// nsenter execs qemu: the PID stays qemu's.
		argv = append([]string{"nsenter", "--net=/run/netns/" + p.spec.LAN, "--"}, argv...)
	}
	start := time.Now()
	cmd, done := startChild(t, argv, g.dir, nil, filepath.Join(g.dir, "qemu.log"), syscall.SIGKILL)
	g.mu.Lock()
	g.cmd, g.done = cmd, done
	g.mu.Unlock()
	p.mu.Lock()
	down := p.linkDown
	p.mu.Unlock()
	var err error
	if down { // before the guest's NIC comes up
		for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err = g.setLink(false); err == nil || closed(done) || time.Now().After(end) {
				break
			}
		}
	}
	var ctl *ctlConn
	if err == nil {
		ctl, err = g.waitAgent(start.Add(drbdBootTimeout))
	}
	if err != nil {
		_ = stopChild("qemu "+g.name, cmd, done, 2*time.Second)
		return fmt.Errorf("%s: %v\nqemu log:\n%s\nconsole:\n%s", g.name, err,
			tailFile(filepath.Join(g.dir, "qemu.log"), 10), tailFile(g.Console(), 30))
	}
	g.mu.Lock()
	g.ctl = ctl
	g.mu.Unlock()
	t.Logf("%s: boot %d ready in %v", g.name, g.boots, time.Since(start).Round(10*time.Millisecond))
	return nil
}

// waitAgent connects to the control socket and pings until the agent
// answers, qemu exits or deadline passes.
func (g *DRBDGuest) waitAgent(deadline time.Time) (*ctlConn, error) {
	sock := filepath.Join(g.dir, "ctl.sock")
	var ctl *ctlConn
	for {
		if closed(g.done) {
			return nil, fmt.Errorf("qemu exited during boot")
		}
		if time.Now().After(deadline) {
			if ctl != nil {
				ctl.close(errors.New("boot timed out"))
			}
			return nil, fmt.Errorf("no answer on the control channel within %v", drbdBootTimeout)
		}
		if ctl == nil {
			c, err := dialCtl(sock, time.Second)
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			ctl = c
		}
		// Requests wait in the socket until the agent opens the port;
		// re-pinging only lets us notice qemu exiting.
		err := ctl.ping(2 * time.Second)
		if err == nil {
			return ctl, nil
		}
		if closed(ctl.dead) {
			ctl = nil
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// halt ends qemu (SIGTERM, SIGKILL after 3 s) after before ran; no-op
// when not running.
func (g *DRBDGuest) halt(before func()) error {
	g.life.Lock()
	defer g.life.Unlock()
	g.mu.Lock()
	ctl := g.ctl
	g.ctl = nil
	cmd, done := g.cmd, g.done
	g.mu.Unlock()
	if ctl != nil {
		ctl.close(errors.New("guest stopped"))
	}
	if cmd == nil || closed(done) {
		return nil
	}
	before()
	return stopChild("qemu "+g.name, cmd, done, 3*time.Second)
}

// Kill crashes the guest: SIGKILL to its qemu, as a power cut. Its disk
// keeps what reached it.
func (g *DRBDGuest) Kill(t testing.TB) {
	t.Helper()
	err := g.halt(func() { _ = g.cmd.Process.Kill() })
	if err != nil {
		t.Fatalf("kill %s: %v", g.name, err)
	}
}

// Stop shuts the guest down cleanly: unmounts what is mounted from a
// DRBD device, "drbdadm down all" (best effort; the peer sees a clean
// disconnect), sync, then a reboot that ends qemu (-no-reboot).
func (g *DRBDGuest) Stop(t testing.TB) {
	t.Helper()
	if !g.Running() {
		return
	}
	_, _, _ = g.Exec(context.Background(), `
for m in $(awk '$1 ~ /^\/dev\/drbd/ {print $2}' /proc/mounts); do timeout 10 umount "$m"; done
timeout 20 drbdadm down all >/dev/null 2>&1
sync
(sleep 0.2; busybox reboot -f) >/dev/null 2>&1 &`)
	g.mu.Lock()
	done := g.done
	g.mu.Unlock()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Logf("%s: still running 15 s after reboot; terminating qemu", g.name)
	}
	if err := g.halt(func() {}); err != nil {
		t.Fatalf("stop %s: %v", g.name, err)
	}
}

// Start boots a stopped or killed guest again, keeping its disk, and
// waits until it answers. The resource files written with WriteResource
// are written again (the guest's /etc is on a tmpfs); DRBD is not
// brought up. If the link is cut, it stays cut (set down through QMP
// right after qemu starts).
func (g *DRBDGuest) Start(t testing.TB) {
	t.Helper()
	if err := g.boot(t); err != nil {
		t.Fatalf("start %s: %v", g.name, err)
	}
	if err := g.rewriteResources(); err != nil {
		t.Fatalf("start %s: %v", g.name, err)
	}
}

// Exec runs script with bash in the guest (stdin /dev/null, stdout and
// stderr combined, LC_ALL=C) and returns its output and exit code. The
// script is evaluated in a subshell of the agent, in a process group of
// its own; NUL bytes in its output are lost. It is killed in the guest
// (the whole process group: SIGTERM, SIGKILL 2 s later) when ctx's
// deadline passes, 60 s when ctx has none; err then wraps
// ErrGuestTimeout and rc is 143 or 137. err is also set, with rc -1,
// when the guest does not answer (crashed, hung in the kernel, stopped).
// Exec may be called from several goroutines at once; the commands run
// concurrently in the guest.
func (g *DRBDGuest) Exec(ctx context.Context, script string) (out string, rc int, err error) {
	timeout := drbdExecTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return "", -1, fmt.Errorf("%s: %w before start", g.name, ErrGuestTimeout)
	}
	g.mu.Lock()
	ctl := g.ctl
	g.mu.Unlock()
	if ctl == nil {
		return "", -1, fmt.Errorf("%s is not running", g.name)
	}
	type result struct {
		r   ctlReply
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := ctl.run(script, timeout)
		ch <- result{r, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		if ctx.Err() == context.Canceled {
			return "", -1, fmt.Errorf("%s: %v", g.name, ctx.Err())
		}
		res = <-ch // the guest kills it at the deadline and answers
	}
	if res.err != nil {
		return "", -1, fmt.Errorf("%s: %v", g.name, res.err)
	}
	if res.r.timedOut {
		return string(res.r.out), res.r.rc, fmt.Errorf("%s: %w after %v", g.name, ErrGuestTimeout, timeout.Round(time.Millisecond))
	}
	return string(res.r.out), res.r.rc, nil
}

// Run runs script with a timeout and returns output and exit code; it
// fails the test only when the command cannot be run or times out.
func (g *DRBDGuest) Run(t testing.TB, timeout time.Duration, script string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, rc, err := g.Exec(ctx, script)
	if err != nil {
		t.Fatalf("%s: %v\nscript:\n%s\noutput:\n%s", g.name, err, script, out)
	}
	return out, rc
}

// MustExec runs script (60 s timeout) and fails the test unless it
// exits 0; it returns the output.
func (g *DRBDGuest) MustExec(t testing.TB, script string) string {
	t.Helper()
	out, rc := g.Run(t, drbdExecTimeout, script)
	if rc != 0 {
		t.Fatalf("%s: exit %d\nscript:\n%s\noutput:\n%s", g.name, rc, script, out)
	}
	return out
}

// WaitFor runs script every 200 ms until it exits 0 and returns its
// output; it fails the test, with the last output, when timeout passes.
func (g *DRBDGuest) WaitFor(t testing.TB, timeout time.Duration, script string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left > 10*time.Second {
			left = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), left)
		out, rc, err := g.Exec(ctx, script)
		cancel()
		if err == nil && rc == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v: %s\nlast exit %d, %v, output:\n%s", g.name, timeout, script, rc, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// CutLink unplugs the link between the guests: QMP set_link n0 down on
// both (the guests see NO-CARRIER; packets are dropped).
func (p *DRBDPair) CutLink(t testing.TB) {
	t.Helper()
	p.setLink(t, false)
}

// HealLink plugs the link back in.
func (p *DRBDPair) HealLink(t testing.TB) {
	t.Helper()
	p.setLink(t, true)
}

func (p *DRBDPair) setLink(t testing.TB, up bool) {
	t.Helper()
	p.mu.Lock()
	p.linkDown = !up
	p.mu.Unlock()
	for _, g := range p.Guests() {
		if !g.Running() {
			continue
		}
		if err := g.setLink(up); err != nil {
			t.Fatalf("link up=%v: %v", up, err)
		}
	}
}

func (g *DRBDGuest) setLink(up bool) error {
	_, err := qmpCommand(filepath.Join(g.dir, "qmp.sock"), 5*time.Second, "set_link",
		map[string]any{"name": "n0", "up": up})
	if err != nil {
		return fmt.Errorf("%s: %v", g.name, err)
	}
	return nil
}

// QMP runs one QMP command on the guest's qemu and returns its "return".
func (g *DRBDGuest) QMP(t testing.TB, command string, args any) string {
	t.Helper()
	r, err := qmpCommand(filepath.Join(g.dir, "qmp.sock"), 5*time.Second, command, args)
	if err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	return string(r)
}

// DRBDResource is the standard test resource: protocol C, ping-int 2 and
// connect-int 2 (a dead peer is noticed in about 3 s, a healed link
// reconnects within 2 s), c-plan-ahead 0 with a fixed resync rate,
// volume 0 on /dev/drbd0 backed by /dev/vda with internal metadata,
// port 7789 on both guests.
type DRBDResource struct {
	Name         string // "r0" when empty
	TwoPrimaries bool   // allow-two-primaries yes
	ResyncRate   string // "100M" when empty (64 MiB in about 4 s)
	Net          string // extra statements for the net section, e.g. "after-sb-0pri discard-zero-changes;"
	Disk         string // extra statements for the disk section, e.g. "fencing resource-only;"
	Handlers     string // statements for a handlers section
}

// Text renders the resource file.
func (r DRBDResource) Text() string {
	if r.Name == "" {
		r.Name = "r0"
	}
	if r.ResyncRate == "" {
		r.ResyncRate = "100M"
	}
	netx := r.Net
	if r.TwoPrimaries {
		netx = strings.TrimSpace("allow-two-primaries yes; " + netx)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "resource %s {\n", r.Name)
	fmt.Fprintf(&b, "\tnet { protocol C; ping-int 2; connect-int 2; %s}\n", spaceAfter(netx))
	fmt.Fprintf(&b, "\tdisk { c-plan-ahead 0; resync-rate %s; %s}\n", r.ResyncRate, spaceAfter(r.Disk))
	if r.Handlers != "" {
		fmt.Fprintf(&b, "\thandlers { %s }\n", r.Handlers)
	}
	b.WriteString("\tvolume 0 { device /dev/drbd0; disk /dev/vda; meta-disk internal; }\n")
	b.WriteString("\ton guest-a { address 192.0.2.11:7789; }\n")
	b.WriteString("\ton guest-b { address 192.0.2.12:7789; }\n")
	b.WriteString("}\n")
	return b.String()
}

func spaceAfter(s string) string {
	if s = strings.TrimSpace(s); s != "" {
		return s + " "
	}
	return ""
}

// WriteResource writes /etc/drbd.d/<name>.res in both guests (and again
// into a guest rebooted with Start). It does not apply it: run
// "drbdadm adjust <name>" for a resource that is up.
func (p *DRBDPair) WriteResource(t testing.TB, name, text string) {
	t.Helper()
	p.mu.Lock()
	p.resources[name] = text
	p.mu.Unlock()
	for _, g := range p.Guests() {
		if g.Running() {
			g.writeResource(t, name, text)
		}
	}
}

func (g *DRBDGuest) writeResource(t testing.TB, name, text string) {
	t.Helper()
	if err := g.putResource(name, text); err != nil {
		t.Fatalf("%v", err)
	}
}

// putResource writes /etc/drbd.d/<name>.res in the guest.
func (g *DRBDGuest) putResource(name, text string) error {
	if strings.ContainsAny(name, "/'") || name == "" {
		return fmt.Errorf("resource name %q", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), drbdExecTimeout)
	defer cancel()
	out, rc, err := g.Exec(ctx, fmt.Sprintf("cat > '/etc/drbd.d/%s.res' <<'PACELINE_EOF'\n%sPACELINE_EOF\n", name, text))
	if err == nil && rc != 0 {
		err = fmt.Errorf("exit %d: %s", rc, out)
	}
	if err != nil {
		return fmt.Errorf("%s: write resource %s: %v", g.name, name, err)
	}
	return nil
}

// rewriteResources writes the resources of WriteResource again into a
// guest that has just booted (its /etc is a tmpfs).
func (g *DRBDGuest) rewriteResources() error {
	p := g.pair
	p.mu.Lock()
	res := make(map[string]string, len(p.resources))
	for k, v := range p.resources {
		res[k] = v
	}
	p.mu.Unlock()
	for name, text := range res {
		if err := g.putResource(name, text); err != nil {
			return err
		}
	}
	return nil
}

// Parallel runs fn for A and B concurrently and waits for both (fn may
// call t.Fatalf only through the returned error: it runs on other
// goroutines).
func (p *DRBDPair) Parallel(fn func(g *DRBDGuest) error) error {
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, g := range p.Guests() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(g)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// UpConnected writes the resource res (rendered by DRBDResource.Text
// unless written before), creates its metadata on both guests, brings it
// up, waits until it is Connected and skips the initial sync, so that
// both end Secondary/Secondary and UpToDate/UpToDate.
func (p *DRBDPair) UpConnected(t testing.TB, res string) {
	t.Helper()
	p.mu.Lock()
	_, written := p.resources[res]
	p.mu.Unlock()
	if !written {
		p.WriteResource(t, res, DRBDResource{Name: res}.Text())
	}
	err := p.Parallel(func(g *DRBDGuest) error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, rc, err := g.Exec(ctx, fmt.Sprintf("set -e\ndrbdadm create-md --force %[1]s 2>&1 | tail -n 3\ndrbdadm up %[1]s", res))
		if err == nil && rc != 0 {
			err = fmt.Errorf("exit %d", rc)
		}
		if err != nil {
			return fmt.Errorf("%s: create-md + up %s: %v\n%s", g.name, res, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	p.A.WaitFor(t, 30*time.Second, fmt.Sprintf(`[ "$(drbdadm cstate %s)" = Connected ]`, res))
	p.A.MustExec(t, fmt.Sprintf("drbdadm -- --clear-bitmap new-current-uuid %s/0", res))
	for _, g := range p.Guests() {
		g.WaitFor(t, 30*time.Second, fmt.Sprintf(
			`[ "$(drbdadm role %[1]s)/$(drbdadm dstate %[1]s)" = Secondary/Secondary/UpToDate/UpToDate ]`, res))
	}
}

// GuestCIB is where SetupCIB puts a guest's CIB file.
const GuestCIB = "/run/cib.xml"

// SetupCIB gives the guest a CIB file of its own (GuestCIB) naming both
// guests as nodes, so that crm_attribute with CIB_file really writes
// node attributes such as promotion scores there, without a cluster, and
// creates /run/resource-agents (HA_RSCTMP). Run it again after a reboot.
func (g *DRBDGuest) SetupCIB(t testing.TB) {
	t.Helper()
	g.MustExec(t, `set -e
export CIB_file=`+GuestCIB+`
cibadmin --empty > $CIB_file
cibadmin -C -o nodes -X '<node id="1" uname="guest-a"/>'
cibadmin -C -o nodes -X '<node id="2" uname="guest-b"/>'
cibadmin -C -o status -X '<node_state id="1" uname="guest-a"/>'
cibadmin -C -o status -X '<node_state id="2" uname="guest-b"/>'
mkdir -p /run/resource-agents`)
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// --- the initramfs

// drbdModules are loaded in the guest, after their dependencies.
var drbdModules = []string{"virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console",
	"9pnet_virtio", "9p", "overlay", "crc32c_generic", "ext4", "drbd"}

// drbdImageFormat changes whenever the way the image is built changes.
const drbdImageFormat = "drbd-guest-2"

// drbdInit is the guest's /init (busybox sh): modules, the host's root
// under an overlay, name and address from the kernel command line
// (pl.name=, pl.ip=), the harness's DRBD configuration, then the agent
// as PID 1 of the new root.
const drbdInit = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod /mod/$m.ko || echo "pl-init: insmod $m failed"; done < /mod/order
for a in $(cat /proc/cmdline); do
	case $a in pl.name=*) name=${a#*=} ;; pl.ip=*) ip=${a#*=} ;; pl.lan=*) lan=${a#*=} ;; esac
done
mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host || echo "pl-init: 9p mount failed"
mount -t tmpfs -o size=64m,mode=755 tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot
for m in proc sys dev; do mount --move /$m /newroot/$m; done
ln -sf /proc/self/fd /newroot/dev/fd
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=755 tmpfs /newroot/run
mkdir -p /newroot/run/lock
hostname "$name"
echo "$name" > /newroot/etc/hostname
printf '127.0.0.1 localhost\n192.0.2.11 guest-a\n192.0.2.12 guest-b\n' > /newroot/etc/hosts
ip link set lo up
ip link set eth0 up
ip addr add "$ip" dev eth0
if [ -n "$lan" ]; then ip link set eth1 up; ip addr add "$lan" dev eth1; fi
rm -rf /newroot/etc/drbd.d
mkdir -p /newroot/etc/drbd.d
printf 'include "drbd.d/global_common.conf";\ninclude "drbd.d/*.res";\n' > /newroot/etc/drbd.conf
printf 'global {\n\tusage-count no;\n}\ncommon {\n}\n' > /newroot/etc/drbd.d/global_common.conf
cp /agent /newroot/run/pl-agent.sh
echo "pl-init: $name $ip switching root at $(cut -d' ' -f1 /proc/uptime)"
exec switch_root /newroot /bin/bash /run/pl-agent.sh
`

// drbdAgent is the guest's PID 1 (bash): it serves the control channel
// of ctlConn on the virtio-serial port named ctl0. Each command runs as a
// background job in a process group of its own (set -m), in a subshell
// that evals the script (an exec of a dynamically linked program costs
// 45-70 ms under TCG, a fork 4 ms), with a timer that kills the whole
// group, so a hanging command blocks nothing else. Answers are written
// while holding the one token of the FIFO on fd 8, so that they never
// interleave. Output is read back with read -d ” (NUL bytes are lost).
const drbdAgent = `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C LC_ALL=C TERM=dumb
cd /
a=/run/pl-agent
mkdir -p $a
mkfifo $a/sleep $a/lock
exec 9<> $a/sleep   # read -t on it: a sleep without a fork
exec 8<> $a/lock    # holds one byte: the token of the answer lock
printf x >&8
port=
while [ -z "$port" ]; do
	for n in /sys/class/virtio-ports/*/name; do
		read -r v < "$n" 2>/dev/null
		if [ "$v" = ctl0 ]; then d=${n%/name}; port=/dev/${d##*/}; fi
	done
	[ -n "$port" ] || read -t 0.1 -u 9 _
done
echo "pl-agent: serving $port at $(cut -d' ' -f1 /proc/uptime)"
answer() { # header line, then the body
	read -r -N 1 -u 8 _
	printf '%s\n%s' "$1" "$2" >&3
	printf x >&8
}
run() { # id timeout-ms script
	local id=$1 ms=$2 f=$a/$BASHPID out rc st=ok pid tpid secs t0
	printf -v secs '%d.%03d' $((ms / 1000)) $((ms % 1000))
	t0=${EPOCHREALTIME/[.,]/}
	set -m
	{ eval "$3"; } > $f.out 2>&1 < /dev/null 3>&- 8>&- 9>&- &
	pid=$!
	set +m
	{ read -t $secs -u 9 _; kill -TERM -- -$pid; read -t 2 -u 9 _; kill -KILL -- -$pid; } 2>/dev/null 3>&- 8>&- &
	tpid=$!
	wait $pid
	rc=$?
	kill $tpid 2>/dev/null
	if [ $rc = 143 -o $rc = 137 ] && [ $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) -ge $ms ]; then st=timeout; fi
	IFS= read -r -d '' out < $f.out
	: > $f.out
	answer "R $id $rc $st ${#out}" "$out"
}
while :; do
	if exec 3<> "$port"; then
		while read -r kind id x y <&3; do
			case $kind in
			C)
				IFS= read -r -N "$y" s <&3
				run "$id" "$x" "$s" &
				;;
			P) answer "P $id" "" ;;
			esac
		done
		exec 3>&-
	fi
	read -t 0.2 -u 9 _
done
`

// buildDRBDInitrd returns the kernel and the DRBD guest initramfs, built
// once per machine under CacheRoot()/drbdguest/<hash of its inputs>.
func buildDRBDInitrd(t testing.TB) (kernel, initrd string) {
	t.Helper()
	k := DebianKernel(t)
	bb, _ := exec.LookPath("busybox")
	bbData, err := os.ReadFile(bb)
	if err != nil {
		t.Fatalf("drbd guest image: %v", err)
	}
	Require(t, isStaticELF(bbData), "%s must be statically linked (busybox-static)", bb)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00", drbdImageFormat, k.Version, strings.Join(drbdModules, ","), drbdInit, drbdAgent)
	h.Write(bbData)
	dir := filepath.Join(cacheDir(t, "drbdguest"), hex.EncodeToString(h.Sum(nil))[:16])
	initrd = filepath.Join(dir, "initrd.gz")
	if _, err := os.Stat(initrd); err == nil {
		return k.Vmlinuz, initrd
	}
	unlock := lockCache(t, "drbdguest")
	defer unlock()
	if _, err := os.Stat(initrd); err == nil {
		return k.Vmlinuz, initrd
	}
	start := time.Now()
	data, err := drbdInitrd(k, bb, bbData)
	if err != nil {
		t.Fatalf("drbd guest image: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("drbd guest image: %v", err)
	}
	if err := ocf.WriteFileAtomic(initrd, data, 0o644); err != nil {
		t.Fatalf("drbd guest image: %v", err)
	}
	t.Logf("drbd guest image: built %s (%d KiB) in %v", initrd, len(data)>>10, time.Since(start).Round(time.Millisecond))
	return k.Vmlinuz, initrd
}

func drbdInitrd(k Kernel, bb string, bbData []byte) ([]byte, error) {
	mods, err := moduleLoadOrder(k.Modules, drbdModules)
	if err != nil {
		return nil, err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %v", err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	w := &cpioWriter{w: zw}
	for _, d := range []string{"bin", "dev", "proc", "sys", "mod"} {
		w.dir(d)
	}
	w.chardev("dev/console", 5, 1)
	w.file("bin/busybox", 0o755, bbData)
	for _, a := range strings.Fields(string(list)) {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		w.symlink("bin/"+a, "busybox")
	}
	var order strings.Builder
	for _, m := range mods {
		w.file("mod/"+m.name+".ko", 0o644, m.data)
		order.WriteString(m.name + "\n")
	}
	w.file("mod/order", 0o644, []byte(order.String()))
	w.file("init", 0o755, []byte(drbdInit))
	w.file("agent", 0o644, []byte(drbdAgent))
	w.trailer()
	if w.err != nil {
		return nil, w.err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type kmod struct {
	name string // normalized: '-' -> '_'
	data []byte // uncompressed
}

// moduleLoadOrder resolves names and their dependencies (depends= in
// each module's .modinfo; the unpacked package has no modules.dep) and
// returns them depth-first, dependencies first. Built-in modules are
// left out.
func moduleLoadOrder(modules string, names []string) ([]kmod, error) {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modules, "kernel"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		if i := strings.Index(base, ".ko"); i > 0 {
			files[norm(base[:i])] = path
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	data, _ := os.ReadFile(filepath.Join(modules, "modules.builtin"))
	for _, l := range strings.Fields(string(data)) {
		builtin[norm(strings.TrimSuffix(filepath.Base(l), ".ko"))] = true
	}
	var out []kmod
	seen := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = norm(name)
		if seen[name] || builtin[name] {
			return nil
		}
		seen[name] = true
		path, ok := files[name]
		if !ok {
			return fmt.Errorf("kernel has no module %s (needed by %s)", name, strings.Join(chain, " <- "))
		}
		data, err := readModule(path)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		for _, d := range deps {
			if err := visit(d, append([]string{name}, chain...)); err != nil {
				return err
			}
		}
		out = append(out, kmod{name: name, data: data})
		return nil
	}
	for _, n := range names {
		if err := visit(n, []string{"harness"}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// moduleDepends reads depends= from a module's .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, d)
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}
