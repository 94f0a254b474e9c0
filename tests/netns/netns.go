// Package netns gives the system tests network namespaces of their own
// and ways into namespaces: two namespaces joined by a veth pair (Pair),
// packet capture on an interface inside one (Capture), Go code run in a
// named network namespace (In) or on a thread that joined the
// namespaces held by files (Enter).
package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

var nsSeq atomic.Int32

// Pair is two network namespaces joined by a veth pair: "v0" in A (where
// the agent runs) and "v1" in B (the peer). Nothing routes out of them.
type Pair struct {
	A, B    string
	MAC0    net.HardwareAddr // v0's MAC
	MAC1    net.HardwareAddr // v1's MAC
	Subnet4 string           // "192.0.2.0/24"
	Subnet6 string           // "fd00:db8:1::/64"
	Addr0v4 string           // v0's own IPv4 address
	Addr1v4 string
	Addr0v6 string
	Addr1v6 string
}

// NewPair creates the namespaces, the veth pair and the base addresses
// (IPv6 without DAD so they are usable at once), removed at cleanup.
func NewPair(t testing.TB) *Pair {
	t.Helper()
	harness.RequireRoot(t, "ip")
	n := nsSeq.Add(1)
	p := &Pair{
		A: fmt.Sprintf("pl%d-%da", os.Getpid(), n), B: fmt.Sprintf("pl%d-%db", os.Getpid(), n),
		Subnet4: "192.0.2.0/24", Subnet6: "fd00:db8:1::/64",
		Addr0v4: "192.0.2.1", Addr1v4: "192.0.2.2", Addr0v6: "fd00:db8:1::1", Addr1v6: "fd00:db8:1::2",
	}
	proc.Run(t, "ip", "netns", "add", p.A)
	t.Cleanup(func() { _, _ = proc.Output(context.Background(), "ip", "netns", "del", p.A) })
	proc.Run(t, "ip", "netns", "add", p.B)
	t.Cleanup(func() { _, _ = proc.Output(context.Background(), "ip", "netns", "del", p.B) })
	proc.Run(t, "ip", "link", "add", "v0", "netns", p.A, "type", "veth", "peer", "name", "v1", "netns", p.B)
	for _, c := range [][]string{
		{"-n", p.A, "link", "set", "lo", "up"},
		{"-n", p.B, "link", "set", "lo", "up"},
		{"-n", p.A, "addr", "add", p.Addr0v4 + "/24", "dev", "v0"},
		{"-n", p.B, "addr", "add", p.Addr1v4 + "/24", "dev", "v1"},
		{"-n", p.A, "addr", "add", p.Addr0v6 + "/64", "dev", "v0", "nodad"},
		{"-n", p.B, "addr", "add", p.Addr1v6 + "/64", "dev", "v1", "nodad"},
		{"-n", p.A, "link", "set", "v0", "up"},
		{"-n", p.B, "link", "set", "v1", "up"},
		// The peer takes every announcement at once: no lock time after
		// a neighbour entry changed (default 1 s).
		{"-n", p.B, "ntable", "change", "name", "arp_cache", "dev", "v1", "locktime", "0"},
		{"-n", p.B, "ntable", "change", "name", "ndisc_cache", "dev", "v1", "locktime", "0"},
	} {
		proc.Run(t, "ip", c...)
	}
	p.MAC0 = p.mac(t, p.A, "v0")
	p.MAC1 = p.mac(t, p.B, "v1")
	return p
}

func (p *Pair) mac(t testing.TB, ns, ifname string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	err := In(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		return nil
	})
	if err != nil {
		t.Fatalf("read MAC of %s in %s: %v", ifname, ns, err)
	}
	return mac
}

// In runs fn on an OS thread inside the named namespace.
func In(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := vnetns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := vnetns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if vnetns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// Frame is one captured Ethernet frame.
type Frame struct {
	At   time.Time
	Data []byte
}

// Capture records every frame arriving on an interface in a namespace,
// through a packet socket opened there.
type Capture struct {
	fd      int
	stopped atomic.Bool
	mu      sync.Mutex
	frames  []Frame
	done    chan struct{}
}

// StartCapture opens the socket and records until cleanup.
func StartCapture(t testing.TB, ns, ifname string) *Capture {
	t.Helper()
	c := &Capture{done: make(chan struct{})}
	err := In(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		c.fd = fd
		return nil
	})
	if err != nil {
		t.Fatalf("capture on %s in %s: %v", ifname, ns, err)
	}
	tv := unix.Timeval{Usec: 100000}
	_ = unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	go c.loop()
	t.Cleanup(c.Stop)
	return c
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *Capture) loop() {
	defer close(c.done)
	buf := make([]byte, 2048)
	for !c.stopped.Load() {
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		c.mu.Lock()
		c.frames = append(c.frames, Frame{At: time.Now(), Data: append([]byte(nil), buf[:n]...)})
		c.mu.Unlock()
	}
}

// Stop ends the capture and closes the socket.
func (c *Capture) Stop() {
	if c.stopped.Swap(true) {
		return
	}
	<-c.done
	unix.Close(c.fd)
}

// Frames returns the frames captured so far that match.
func (c *Capture) Frames(match func([]byte) bool) []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Frame
	for _, f := range c.frames {
		if match(f.Data) {
			out = append(out, f)
		}
	}
	return out
}

// WaitFor waits until at least n frames match, or the timeout passes, and
// returns the matching frames.
func (c *Capture) WaitFor(n int, timeout time.Duration, match func([]byte) bool) []Frame {
	var got []Frame
	_ = proc.Until(timeout, 20*time.Millisecond, func() error {
		if got = c.Frames(match); len(got) < n {
			return fmt.Errorf("%d of %d frames", len(got), n)
		}
		return nil
	})
	return got
}
