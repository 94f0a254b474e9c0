package drbdlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Guest is one guest of a Pair.
type Guest struct {
	pair *Pair
	peer *Guest
	name string // guest-a
	ip   string // 192.0.2.11
	mac  string
	dir  string // its own directory: disk, sockets, logs
	// On the cluster's LAN (PairSpec.LAN): its address with prefix, its
	// tap device there and its MAC.
	lanIP, lanTap, lanMAC string

	// life serialises boots and halts; mu guards the fields below and
	// is never held for long, so that Running and Exec do not wait for
	// a boot (Exec fails while the guest has no control channel).
	life  sync.Mutex
	qemu  proc.Slot
	mu    sync.Mutex
	ctl   *ctlConn
	boots int
}

// bootTimeout bounds one boot (qemu start to agent answering); a boot
// takes 8-11 s on two idle cores under TCG.
const bootTimeout = 120 * time.Second

// execTimeout is the timeout of the guest commands of the helpers that
// take none.
const execTimeout = 60 * time.Second

// Name is the guest's hostname, "guest-a" or "guest-b".
func (g *Guest) Name() string { return g.name }

// IP is the guest's address on the link, without prefix length.
func (g *Guest) IP() string { return g.ip }

// Console is the file the guest's serial console is appended to (all
// boots of the guest, each preceded by a "=== boot N" line).
func (g *Guest) Console() string { return filepath.Join(g.dir, "console.log") }

// Disk is the guest's backing disk file on the host.
func (g *Guest) Disk() string { return filepath.Join(g.dir, "disk.img") }

// Running reports whether the guest's qemu is running.
func (g *Guest) Running() bool { return !g.qemu.Exited() }

// boot starts qemu and waits until the agent answers; logf tells how
// long it took.
func (g *Guest) boot(logf func(format string, args ...any)) error {
	g.life.Lock()
	defer g.life.Unlock()
	if g.Running() {
		return fmt.Errorf("%s is running", g.name)
	}
	p := g.pair
	// A guest without a peer (the NFS client) has a link to nobody.
	remote := filepath.Join(g.dir, "nobody.sock")
	if g.peer != nil {
		remote = filepath.Join(g.peer.dir, "net.sock")
	}
	for _, f := range []string{"net.sock", "ctl.sock", "qmp.sock"} {
		_ = os.Remove(filepath.Join(g.dir, f))
	}
	g.boots++
	if f, err := os.OpenFile(g.Console(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
		fmt.Fprintf(f, "\n=== boot %d of %s at %s\n", g.boots, g.name, time.Now().Format(time.RFC3339Nano))
		f.Close()
	}
	cmdline := fmt.Sprintf("console=ttyS0 panic=-1 quiet pl.name=%s pl.ip=%s/24", g.name, g.ip)
	if g.lanTap != "" {
		cmdline += " pl.lan=" + g.lanIP
	}
	argv := []string{"qemu-system-x86_64", "-name", g.name,
		"-accel", "tcg,tb-size=64", "-M", "pc", "-cpu", "max", "-smp", "1",
		"-m", fmt.Sprint(p.spec.MemMiB), "-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", p.img.Kernel, "-initrd", p.img.Initrd, "-append", cmdline,
		"-chardev", "file,id=con0,append=on,path=" + g.Console(), "-serial", "chardev:con0",
		"-virtfs", "local,path=" + filepath.Join("/", p.spec.Root) + ",mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
		"-drive", "file=" + g.Disk() + ",if=none,id=d0,format=raw,cache=unsafe",
		"-device", "virtio-blk-pci,drive=d0",
		"-netdev", "dgram,id=n0,local.type=unix,local.path=" + filepath.Join(g.dir, "net.sock") +
			",remote.type=unix,remote.path=" + remote,
		"-device", "virtio-net-pci,netdev=n0,mac=" + g.mac,
		"-device", "virtio-rng-pci",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=ctl0,server=on,wait=off,path=" + filepath.Join(g.dir, "ctl.sock"),
		"-device", "virtserialport,chardev=ctl0,name=ctl0",
		"-qmp", "unix:" + filepath.Join(g.dir, "qmp.sock") + ",server=on,wait=off",
	}
	if p.spec.Shared != "" {
		// Both qemu processes write the same file through this
		// machine's page cache, which keeps their views coherent.
		argv = append(argv, "-drive", "file="+p.spec.Shared+",if=none,id=d1,format=raw,cache=writeback",
			"-device", "virtio-blk-pci,drive=d1,share-rw=on,serial=shared")
	}
	if g.lanTap != "" {
		argv = append(argv,
			"-netdev", "tap,id=n1,ifname="+g.lanTap+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n1,mac="+g.lanMAC)
		// nsenter execs qemu: the PID stays qemu's.
		argv = append([]string{"nsenter", "--net=/run/netns/" + p.spec.LAN, "--"}, argv...)
	}
	start := time.Now()
	qemu, err := proc.Start(proc.Spec{Argv: argv, Dir: g.dir, Log: filepath.Join(g.dir, "qemu.log"), DeathSignal: syscall.SIGKILL})
	if err != nil {
		return fmt.Errorf("%s: %v", g.name, err)
	}
	g.qemu.Set(qemu)
	p.mu.Lock()
	down := p.linkDown
	p.mu.Unlock()
	if down { // before the guest's NIC comes up
		err = proc.Until(10*time.Second, 20*time.Millisecond, func() error {
			if qemu.Exited() {
				return proc.Abort(errors.New("qemu exited"))
			}
			return g.setLink(false)
		})
	}
	var ctl *ctlConn
	if err == nil {
		ctl, err = g.waitAgent(qemu, start.Add(bootTimeout))
	}
	if err != nil {
		_ = qemu.Stop(2 * time.Second)
		return fmt.Errorf("%s: %v\nqemu log:\n%s\nconsole:\n%s", g.name, err,
			harness.Tail(filepath.Join(g.dir, "qemu.log"), 10), harness.Tail(g.Console(), 30))
	}
	g.mu.Lock()
	g.ctl = ctl
	g.mu.Unlock()
	logf("%s: boot %d ready in %v", g.name, g.boots, time.Since(start).Round(10*time.Millisecond))
	return nil
}

// waitAgent connects to the control socket and pings until the agent
// answers, qemu exits or deadline passes.
func (g *Guest) waitAgent(qemu *proc.Proc, deadline time.Time) (*ctlConn, error) {
	sock := filepath.Join(g.dir, "ctl.sock")
	var ctl *ctlConn
	err := proc.Until(time.Until(deadline), 50*time.Millisecond, func() error {
		if qemu.Exited() {
			return proc.Abort(errors.New("qemu exited during boot"))
		}
		if ctl == nil {
			c, err := dialCtl(sock, time.Second)
			if err != nil {
				return err
			}
			ctl = c
		}
		// Requests wait in the socket until the agent opens the port;
		// re-pinging only lets us notice qemu exiting.
		err := ctl.ping(2 * time.Second)
		if err != nil && ctl.closed() {
			ctl = nil
		}
		return err
	})
	if err != nil {
		if ctl != nil {
			ctl.close(errors.New("boot failed"))
		}
		return nil, fmt.Errorf("no answer on the control channel: %v", err)
	}
	return ctl, nil
}

// halt ends qemu (SIGKILL at once when kill, else SIGTERM, SIGKILL
// after 3 s); no-op when not running.
func (g *Guest) halt(kill bool) error {
	g.life.Lock()
	defer g.life.Unlock()
	g.mu.Lock()
	ctl := g.ctl
	g.ctl = nil
	g.mu.Unlock()
	if ctl != nil {
		ctl.close(errors.New("guest stopped"))
	}
	if g.qemu.Exited() {
		return nil
	}
	if q := g.qemu.Get(); kill && q != nil {
		_ = q.Signal(syscall.SIGKILL)
	}
	if err := g.qemu.Stop(3 * time.Second); err != nil {
		return fmt.Errorf("%s: %v", g.name, err)
	}
	return nil
}

// Kill crashes the guest: SIGKILL to its qemu, as a power cut. Its disk
// keeps what reached it.
func (g *Guest) Kill(t testing.TB) {
	t.Helper()
	if err := g.halt(true); err != nil {
		t.Fatalf("kill %s: %v", g.name, err)
	}
}

// Stop shuts the guest down cleanly: unmounts what is mounted from a
// DRBD device, "drbdadm down all" (best effort; the peer sees a clean
// disconnect), sync, then a reboot that ends qemu (-no-reboot).
func (g *Guest) Stop(t testing.TB) {
	t.Helper()
	if !g.Running() {
		return
	}
	_, _, _ = g.Exec(context.Background(), `
for m in $(awk '$1 ~ /^\/dev\/drbd/ {print $2}' /proc/mounts); do timeout 10 umount "$m"; done
timeout 20 drbdadm down all >/dev/null 2>&1
sync
(sleep 0.2; busybox reboot -f) >/dev/null 2>&1 &`)
	if q := g.qemu.Get(); q != nil {
		select {
		case <-q.Done():
		case <-time.After(15 * time.Second):
			t.Logf("%s: still running 15 s after reboot; terminating qemu", g.name)
		}
	}
	if err := g.halt(false); err != nil {
		t.Fatalf("stop %s: %v", g.name, err)
	}
}

// Start boots a stopped or killed guest again, keeping its disk, and
// waits until it answers. The resource files written with WriteResource
// are written again (the guest's /etc is on a tmpfs); DRBD is not
// brought up. If the link is cut, it stays cut (set down through QMP
// right after qemu starts).
func (g *Guest) Start(t testing.TB) {
	t.Helper()
	if err := g.boot(t.Logf); err != nil {
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
// ErrTimeout and rc is 143 or 137. err is also set, with rc -1,
// when the guest does not answer (crashed, hung in the kernel, stopped).
// Exec may be called from several goroutines at once; the commands run
// concurrently in the guest.
func (g *Guest) Exec(ctx context.Context, script string) (out string, rc int, err error) {
	timeout := execTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return "", -1, fmt.Errorf("%s: %w before start", g.name, ErrTimeout)
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
		return string(res.r.out), res.r.rc, fmt.Errorf("%s: %w after %v", g.name, ErrTimeout, timeout.Round(time.Millisecond))
	}
	return string(res.r.out), res.r.rc, nil
}

// Run runs script with a timeout and returns output and exit code; it
// fails the test only when the command cannot be run or times out.
func (g *Guest) Run(t testing.TB, timeout time.Duration, script string) (string, int) {
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
func (g *Guest) MustExec(t testing.TB, script string) string {
	t.Helper()
	out, rc := g.Run(t, execTimeout, script)
	if rc != 0 {
		t.Fatalf("%s: exit %d\nscript:\n%s\noutput:\n%s", g.name, rc, script, out)
	}
	return out
}

// WaitFor runs script every 200 ms until it exits 0 and returns its
// output; it fails the test, with the last output, when timeout passes.
func (g *Guest) WaitFor(t testing.TB, timeout time.Duration, script string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var out string
	var rc int
	err := proc.Until(timeout, 200*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), min(time.Until(deadline), 10*time.Second))
		defer cancel()
		var err error
		out, rc, err = g.Exec(ctx, script)
		if err == nil && rc != 0 {
			err = fmt.Errorf("exit %d", rc)
		}
		return err
	})
	if err != nil {
		t.Fatalf("%s: %s: %v, output:\n%s", g.name, script, err, out)
	}
	return out
}

func (g *Guest) setLink(up bool) error {
	_, err := qmpCommand(filepath.Join(g.dir, "qmp.sock"), 5*time.Second, "set_link",
		map[string]any{"name": "n0", "up": up})
	if err != nil {
		return fmt.Errorf("%s: %v", g.name, err)
	}
	return nil
}

// QMP runs one QMP command on the guest's qemu and returns its "return".
func (g *Guest) QMP(t testing.TB, command string, args any) string {
	t.Helper()
	r, err := qmpCommand(filepath.Join(g.dir, "qmp.sock"), 5*time.Second, command, args)
	if err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	return string(r)
}

// Stamps reads a file of the guest that lists times on the guest's
// clock (seconds since the epoch, one a line, as date +%s.%N prints
// them) and returns them on this machine's clock: the guest's clock is
// read with the file and compared with ours (the guest read it between
// our request and its answer). Nil when the file cannot be read.
func (g *Guest) Stamps(t testing.TB, path string) []time.Time {
	t.Helper()
	sent := time.Now()
	out, _ := g.Run(t, 30*time.Second, "date +%s.%N; cat "+path+" 2>/dev/null")
	back := time.Now()
	f := strings.Fields(out)
	if len(f) == 0 {
		return nil
	}
	guestNow, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return nil
	}
	offset := sent.Add(back.Sub(sent) / 2).Sub(time.Unix(0, int64(guestNow*1e9)))
	var at []time.Time
	for _, l := range f[1:] {
		if v, err := strconv.ParseFloat(l, 64); err == nil {
			at = append(at, time.Unix(0, int64(v*1e9)).Add(offset))
		}
	}
	return at
}

// LongestPause returns the longest pause between consecutive stamps
// that ends after since: the last stamp before it and the first after.
func LongestPause(at []time.Time, since time.Time) (last, first time.Time) {
	for k := 1; k < len(at); k++ {
		if at[k].After(since) && at[k].Sub(at[k-1]) > first.Sub(last) {
			last, first = at[k-1], at[k]
		}
	}
	return last, first
}
