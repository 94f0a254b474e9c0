//go:build system

// System tests of ocf:paceline:IPaddr2 against real netlink in network
// namespaces made by the test, with announcements captured on the peer.
package ipaddr2_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/netns"
	"github.com/paceline-ha/paceline/tests/proc"
)

// TestMain removes the installed binaries after the tests.
func TestMain(m *testing.M) { os.Exit(h.Main(m)) }

type addrInfo struct {
	Local     string `json:"local"`
	Prefixlen int    `json:"prefixlen"`
	Broadcast string `json:"broadcast"`
	Label     string `json:"label"`
	Tentative bool   `json:"tentative"`
	DADFailed bool   `json:"dadfailed"`
}

// addrs lists the addresses on dev in ns with "ip -j addr show".
func addrs(t *testing.T, ns, dev string) []addrInfo {
	t.Helper()
	out := proc.Run(t, "ip", "-j", "-n", ns, "addr", "show", "dev", dev)
	var links []struct {
		AddrInfo []addrInfo `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		t.Fatalf("parse ip -j output: %v\n%s", err, out)
	}
	if len(links) == 0 {
		return nil
	}
	return links[0].AddrInfo
}

func findAddr(t *testing.T, ns, dev, ip string) *addrInfo {
	t.Helper()
	for _, a := range addrs(t, ns, dev) {
		if a.Local == ip {
			a := a
			return &a
		}
	}
	return nil
}

// monitorAndStop runs a recurring monitor and a stop of a started agent,
// both successful, and checks that the stop took ip off dev in ns.
func monitorAndStop(t *testing.T, a *h.Agent, ns, dev, ip string) {
	t.Helper()
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	if findAddr(t, ns, dev, ip) != nil {
		t.Errorf("%s still on %s after stop", ip, dev)
	}
}

// gratuitousARP matches ARP packets announcing ip from mac.
func gratuitousARP(ip string, mac net.HardwareAddr) func([]byte) bool {
	want := netip.MustParseAddr(ip).As4()
	return func(f []byte) bool {
		if len(f) < 42 || binary.BigEndian.Uint16(f[12:14]) != 0x0806 {
			return false
		}
		a := f[14:]
		return string(a[8:14]) == string(mac) && [4]byte(a[14:18]) == want && [4]byte(a[24:28]) == want
	}
}

// unsolicitedNA matches neighbour advertisements for ip sent to all nodes.
func unsolicitedNA(ip string) func([]byte) bool {
	want := netip.MustParseAddr(ip).As16()
	return func(f []byte) bool {
		if len(f) < 14+40+24 || binary.BigEndian.Uint16(f[12:14]) != 0x86dd {
			return false
		}
		p := f[14:]
		return p[6] == 58 && p[40] == 136 && [16]byte(p[40+8:40+24]) == want && p[24] == 0xff
	}
}

const staleMAC = "02:00:00:00:00:99"

// captureWait bounds the waits for announcements the agent has sent, or
// is sure to send within a second: a capture goroutine or a background
// announcer that a loaded machine holds back still gets there long before.
// What is sent when is checked otherwise (see TestIPv4Lifecycle).
const captureWait = 20 * time.Second

// expectNeigh checks that ns's neighbour entry for ip has mac.
func expectNeigh(t *testing.T, ns, ip string, mac net.HardwareAddr) {
	t.Helper()
	out := proc.Run(t, "ip", "-n", ns, "neigh", "show", ip)
	if !strings.Contains(out, "lladdr "+mac.String()) {
		t.Errorf("neighbour entry for %s in %s = %q, want lladdr %s", ip, ns, strings.TrimSpace(out), mac)
	}
}

func newAgent(t *testing.T, ns string, params map[string]string) *h.Agent {
	dir := t.TempDir()
	return &h.Agent{
		Dir: h.Install(t), Type: "IPaddr2", Instance: "vip", Netns: ns, Params: params,
		StateDir: filepath.Join(dir, "rsctmp"), LogFile: filepath.Join(dir, "ha.log"),
	}
}

func TestIPv4Lifecycle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
		bits   int
		label  string
	}{
		{"nic from routes", map[string]string{"ip": "192.0.2.55"}, 24, "v0"},
		{"explicit nic, prefix and label", map[string]string{"ip": "192.0.2.56", "nic": "v0", "cidr_netmask": "25", "iflabel": "web"}, 25, "v0:web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netns.NewPair(t)
			capture := netns.StartCapture(t, p.B, "v1")
			a := newAgent(t, p.A, tc.params)
			ip := tc.params["ip"]
			// A neighbour that remembers another MAC for the address.
			proc.Run(t, "ip", "-n", p.B, "neigh", "add", ip, "lladdr", staleMAC, "dev", "v1", "nud", "stale")

			h.Expect(t, a.Call(t, "validate-all"), ocf.Success, "")
			h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
			began := time.Now()
			h.Expect(t, a.Call(t, "start"), ocf.Success, "")

			got := findAddr(t, p.A, "v0", ip)
			if got == nil {
				t.Fatalf("%s not on v0 after start: %+v", ip, addrs(t, p.A, "v0"))
			}
			if got.Prefixlen != tc.bits || got.Label != tc.label {
				t.Errorf("address = /%d label %q, want /%d label %q", got.Prefixlen, got.Label, tc.bits, tc.label)
			}
			wantBrd := "192.0.2.255"
			if tc.bits == 25 {
				wantBrd = "192.0.2.127"
			}
			if got.Broadcast != wantBrd {
				t.Errorf("broadcast = %q, want %q", got.Broadcast, wantBrd)
			}
			// 5 gratuitous ARPs, 200 ms apart: the first before start
			// returned, the rest from the background announcer. The
			// capture stamps a frame when it reads it, never before it
			// arrived, and the first one left after start began: the
			// fifth cannot be seen less than four intervals after that,
			// however late anything runs. (The default interval itself
			// is checked by TestConfig in agents/ipaddr2; an upper bound
			// here would only measure the machine's load.)
			arps := capture.WaitFor(5, captureWait, gratuitousARP(ip, p.MAC0))
			if len(arps) != 5 {
				t.Errorf("peer received %d gratuitous ARPs for %s, want 5", len(arps), ip)
			} else if d := arps[4].At.Sub(began); d < 4*200*time.Millisecond {
				t.Errorf("the fifth ARP was seen %v after start began, want at least 4 intervals of 200 ms", d)
			}

			expectNeigh(t, p.B, ip, p.MAC0)

			h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
			h.Expect(t, a.Call(t, "monitor"), ocf.Success, "")
			h.Expect(t, a.Call(t, "start"), ocf.Success, "") // idempotent
			h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
			if got := findAddr(t, p.A, "v0", ip); got != nil {
				t.Errorf("%s still on v0 after stop", ip)
			}
			h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.NotRunning, "")
			h.Expect(t, a.Call(t, "stop"), ocf.Success, "") // idempotent
			if findAddr(t, p.A, "v0", p.Addr0v4) == nil {
				t.Error("the interface's own address was removed")
			}
		})
	}
}

func TestIPv6Lifecycle(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
	}{
		{"with DAD, nic from routes", map[string]string{"ip": "fd00:db8:1::55"}},
		{"nodad, explicit nic and prefix", map[string]string{"ip": "fd00:db8:1::56", "nic": "v0", "cidr_netmask": "64", "nodad": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netns.NewPair(t)
			capture := netns.StartCapture(t, p.B, "v1")
			a := newAgent(t, p.A, tc.params)
			ip := tc.params["ip"]
			// Linux applies an unsolicited NA only to an existing entry, and
			// (seen on 6.x, whatever the lock time) not to one created less
			// than a second ago.
			proc.Run(t, "ip", "-n", p.B, "-6", "neigh", "add", ip, "lladdr", staleMAC, "dev", "v1", "nud", "stale")
			time.Sleep(1100 * time.Millisecond)

			h.Expect(t, a.Call(t, "start"), ocf.Success, "")
			got := findAddr(t, p.A, "v0", ip)
			if got == nil || got.Prefixlen != 64 || got.Tentative || got.DADFailed {
				t.Fatalf("after start %s = %+v, want /64, not tentative", ip, got)
			}
			nas := capture.WaitFor(5, captureWait, unsolicitedNA(ip))
			if len(nas) != 5 {
				t.Errorf("peer received %d unsolicited NAs for %s, want 5", len(nas), ip)
			}
			// The peer's stale entry now points at us: the kernel accepted
			// the advertisement (checksum, hop limit, override flag).
			expectNeigh(t, p.B, ip, p.MAC0)
			monitorAndStop(t, a, p.A, "v0", ip)
			h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
		})
	}
}

func TestIPv6DADFailure(t *testing.T) {
	p := netns.NewPair(t)
	const ip = "fd00:db8:1::77"
	proc.Run(t, "ip", "-n", p.B, "addr", "add", ip+"/64", "dev", "v1", "nodad")
	a := newAgent(t, p.A, map[string]string{"ip": ip})
	res := a.Call(t, "start")
	h.Expect(t, res, ocf.ErrGeneric, ip)
	if !strings.Contains(res.Reason, "duplicate address detection failed") {
		t.Errorf("reason %q does not name DAD", res.Reason)
	}
	if got := findAddr(t, p.A, "v0", ip); got != nil {
		t.Errorf("the duplicate address was left on v0: %+v", got)
	}
	h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
}

func TestRunArping(t *testing.T) {
	p := netns.NewPair(t)
	const taken = "192.0.2.77"
	proc.Run(t, "ip", "-n", p.B, "addr", "add", taken+"/24", "dev", "v1")

	a := newAgent(t, p.A, map[string]string{"ip": taken, "run_arping": "true"})
	res := a.Call(t, "start")
	h.Expect(t, res, ocf.ErrGeneric, p.MAC1.String())
	if findAddr(t, p.A, "v0", taken) != nil {
		t.Error("the address was added although another host holds it")
	}

	// A free address: the probe listens for its one second and start
	// goes on, instead of waiting out its budget for an answer that never
	// comes. Half of the budget tells the two apart under any load.
	const timeout = 20 * time.Second
	free := newAgent(t, p.A, map[string]string{"ip": "192.0.2.78", "run_arping": "true"})
	res = free.Call(t, "start", h.Timeout(timeout))
	h.Expect(t, res, ocf.Success, "")
	if res.Elapsed < time.Second {
		t.Errorf("start with run_arping took %v: it did not listen for the probe's second", res.Elapsed)
	}
	if res.Elapsed >= timeout/2 {
		t.Errorf("start with run_arping took %v of a %v timeout: the probe waited for the budget, not its second", res.Elapsed, timeout)
	}
	h.Expect(t, free.Call(t, "stop"), ocf.Success, "")
}

func TestArpForeground(t *testing.T) {
	p := netns.NewPair(t)
	capture := netns.StartCapture(t, p.B, "v1")
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.60", "arp_bg": "false", "arp_count": "3", "arp_interval": "100"})
	res := a.Call(t, "start")
	h.Expect(t, res, ocf.Success, "")
	// All three were sent by start itself: it waited the two intervals
	// between them, and it left no background announcer (whose pid file
	// stays until stop). When the capture reads them does not matter.
	if n := len(capture.WaitFor(3, captureWait, gratuitousARP("192.0.2.60", p.MAC0))); n != 3 {
		t.Errorf("peer received %d ARPs, want 3", n)
	}
	if res.Elapsed < 200*time.Millisecond {
		t.Errorf("foreground start took %v, less than the two intervals", res.Elapsed)
	}
	if _, err := os.Stat(filepath.Join(a.StateDir, "IPaddr2-announce-192.0.2.60.pid")); err == nil {
		t.Error("arp_bg=false started a background announcer")
	}
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
}

func TestStopEndsBackgroundAnnouncer(t *testing.T) {
	p := netns.NewPair(t)
	// 1000 announcements 100 ms apart: the announcer would run 100 s on
	// its own, well past the wait for its end below.
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.61", "arp_count": "1000", "arp_interval": "100"})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	pidf := filepath.Join(a.StateDir, "IPaddr2-announce-192.0.2.61.pid")
	b, err := os.ReadFile(pidf)
	if err != nil {
		t.Fatalf("no pid file of the background announcer: %v", err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !alive(pid) {
		t.Fatalf("background announcer %d is not running", pid)
	}
	t.Cleanup(func() {
		// Only after a failure: ours, still running (the pid checked by
		// its command line, not reused by another process).
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if alive(pid) && strings.Contains(string(cmdline), "__ipaddr2-announce\x00") && strings.Contains(string(cmdline), "\x00192.0.2.61\x00") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	// stop signals it and returns: it dies at once, but a loaded machine
	// may take a while to run its exit.
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("background announcer %d survived stop", pid)
	}
	if _, err := os.Stat(pidf); err == nil {
		t.Error("pid file left behind")
	}
}

// alive tests a pid by its state (an exited child may linger as a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	return !strings.Contains(string(b), "State:\tZ")
}

func TestMissingInterface(t *testing.T) {
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.62", "nic": "nosuch0"})
	h.Expect(t, a.Call(t, "validate-all"), ocf.ErrConfigured, "nosuch0")
	h.Expect(t, a.Call(t, "start"), ocf.ErrConfigured, "nosuch0")
	h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "nosuch0")
	// A recurring monitor: the interface vanished under a running
	// resource, a failure of the node (1), as upstream since 3.9.6.
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.ErrGeneric, "nosuch0")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
}

func TestNoRoute(t *testing.T) {
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "198.51.100.9"})
	h.Expect(t, a.Call(t, "start"), ocf.ErrGeneric, "no route matches 198.51.100.9")
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.ErrGeneric, "no route")
	h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	// With nic and prefix given no route is needed.
	b := newAgent(t, p.A, map[string]string{"ip": "198.51.100.9", "nic": "v0", "cidr_netmask": "24"})
	h.Expect(t, b.Call(t, "start"), ocf.Success, "")
	h.Expect(t, b.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, b.Call(t, "stop"), ocf.Success, "")
}

func TestNetworkNamespaceParameter(t *testing.T) {
	p := netns.NewPair(t)
	capture := netns.StartCapture(t, p.B, "v1")
	// The agent runs in the test's namespace and works inside p.A.
	a := newAgent(t, "", map[string]string{"ip": "192.0.2.63", "network_namespace": p.A})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	if findAddr(t, p.A, "v0", "192.0.2.63") == nil {
		t.Fatal("address not added inside the namespace")
	}
	if n := len(capture.WaitFor(5, captureWait, gratuitousARP("192.0.2.63", p.MAC0))); n != 5 {
		t.Errorf("peer received %d ARPs, want 5", n)
	}
	monitorAndStop(t, a, p.A, "v0", "192.0.2.63")
}

func TestAddressElsewhere(t *testing.T) {
	p := netns.NewPair(t)
	proc.Run(t, "ip", "-n", p.A, "addr", "add", "192.0.2.64/16", "dev", "v0")
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.64", "cidr_netmask": "24"})
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.NotRunning, "found 192.0.2.64/16 on v0")
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	got := findAddr(t, p.A, "v0", "192.0.2.64")
	if got == nil || got.Prefixlen != 24 {
		t.Fatalf("after start: %+v, want /24", got)
	}
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
}

func TestLinkDown(t *testing.T) {
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.65"})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	proc.Run(t, "ip", "-n", p.B, "link", "set", "v1", "down") // v0 loses its carrier
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.NotRunning, "interface v0 is down")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	h.Expect(t, a.Call(t, "start"), ocf.ErrInstalled, "no carrier")
	off := newAgent(t, p.A, map[string]string{"ip": "192.0.2.65", "check_link_status": "false"})
	h.Expect(t, off.Call(t, "start"), ocf.Success, "")
	h.Expect(t, off.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, off.Call(t, "stop"), ocf.Success, "")
}

func TestArpRefreshOnMonitor(t *testing.T) {
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.66", "arp_count": "0", "arp_count_refresh": "2", "arp_interval": "50"})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	capture := netns.StartCapture(t, p.B, "v1")
	// Sent by the monitor itself, before it returned.
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	if n := len(capture.WaitFor(2, captureWait, gratuitousARP("192.0.2.66", p.MAC0))); n != 2 {
		t.Errorf("monitor sent %d refresh ARPs, want 2", n)
	}
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
}

func TestNotRoot(t *testing.T) {
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.67"})
	res := a.Call(t, "start", func(c *ocf.Call) {
		c.Wrap = append(c.Wrap, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--")
	})
	h.Expect(t, res, ocf.ErrPerm, "root")
}

// TestMonitorForksNothing checks under strace that monitor, validate-all
// and meta-data start no process.
func TestMonitorForksNothing(t *testing.T) {
	h.RequireRoot(t, "strace")
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "192.0.2.68"})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	defer a.Call(t, "stop")
	for _, action := range []string{"monitor", "validate-all", "meta-data"} {
		trace := filepath.Join(t.TempDir(), "trace")
		res := a.Call(t, action, h.Interval(10*time.Second), func(c *ocf.Call) {
			c.Wrap = append(c.Wrap, "strace", "-f", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", trace, "--")
		})
		h.Expect(t, res, ocf.Success, "")
		forks, execs := h.CountProcesses(t, trace)
		if forks != 0 || execs != 1 {
			t.Errorf("%s: %d forks and %d execs, want 0 and 1", action, forks, execs)
		}
	}
}

func TestOCFTester(t *testing.T) {
	h.RequireRoot(t, "ocf-tester", "xmllint")
	for _, ip := range []string{"192.0.2.69", "fd00:db8:1::69"} {
		t.Run(ip, func(t *testing.T) {
			p := netns.NewPair(t)
			dir := h.Install(t)
			out, err := proc.Output(context.Background(), "ip", "netns", "exec", p.A, "env", "HA_RSCTMP="+t.TempDir(),
				"ocf-tester", "-n", "vip", "-o", "ip="+ip, filepath.Join(dir, "IPaddr2"))
			if err != nil || !strings.Contains(out, "passed all tests") {
				t.Fatalf("ocf-tester failed: %v\n%s", err, out)
			}
		})
	}
}

// TestLoopbackAddress: a 127.x address takes its interface and prefix from
// the local routing table, as findif does, and is not announced.
func TestLoopbackAddress(t *testing.T) {
	p := netns.NewPair(t)
	a := newAgent(t, p.A, map[string]string{"ip": "127.0.0.2"})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	got := findAddr(t, p.A, "lo", "127.0.0.2")
	if got == nil || got.Prefixlen != 8 {
		t.Fatalf("127.0.0.2 on lo = %+v, want /8", got)
	}
	monitorAndStop(t, a, p.A, "lo", "127.0.0.2")
}

// TestAddressFlags: preferred_lft, noprefixroute and flush_routes reach
// the kernel as ip addr add would pass them.
func TestAddressFlags(t *testing.T) {
	p := netns.NewPair(t)
	v6 := newAgent(t, p.A, map[string]string{"ip": "fd00:db8:1::58", "preferred_lft": "0", "nodad": "true"})
	h.Expect(t, v6.Call(t, "start"), ocf.Success, "")
	out := proc.Run(t, "ip", "-n", p.A, "-6", "addr", "show", "dev", "v0", "to", "fd00:db8:1::58/128")
	if !strings.Contains(out, "deprecated") || !strings.Contains(out, "preferred_lft 0sec") {
		t.Errorf("preferred_lft=0 address: %q, want deprecated with preferred_lft 0sec", out)
	}
	h.Expect(t, v6.Call(t, "stop"), ocf.Success, "")

	v4 := newAgent(t, p.A, map[string]string{"ip": "198.51.100.7", "nic": "v0", "cidr_netmask": "24",
		"noprefixroute": "true", "flush_routes": "true"})
	h.Expect(t, v4.Call(t, "start"), ocf.Success, "")
	if routes := proc.Run(t, "ip", "-n", p.A, "route", "show", "198.51.100.0/24"); strings.TrimSpace(routes) != "" {
		t.Errorf("noprefixroute: the prefix route was added: %q", routes)
	}
	monitorAndStop(t, v4, p.A, "v0", "198.51.100.7")
}
