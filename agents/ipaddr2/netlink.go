package ipaddr2

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNoNamespace is returned when network_namespace names no namespace.
var ErrNoNamespace = errors.New("network namespace does not exist")

// host is the network stack the agent works on: the current network
// namespace, or the one named by network_namespace. Every operation goes
// through netlink on a handle bound to that namespace.
type host struct {
	h     *netlink.Handle
	ns    netns.NsHandle // -1 for the current namespace
	links map[int]netlink.Link
}

// openHost opens a netlink handle in the named namespace ("" = current).
// Replaces "ip netns exec NAME".
func openHost(nsName string) (*host, error) {
	n := &host{ns: netns.None()}
	var err error
	if nsName != "" {
		n.ns, err = netns.GetFromName(nsName)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s", ErrNoNamespace, nsName)
			}
			return nil, fmt.Errorf("open network namespace %s: %w", nsName, err)
		}
		n.h, err = netlink.NewHandleAt(n.ns, unix.NETLINK_ROUTE)
	} else {
		n.h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	// The kernel answers netlink at once; the timeout guards against the
	// unthinkable so that no action can hang here.
	_ = n.h.SetSocketTimeout(5 * time.Second)
	return n, nil
}

func (n *host) Close() {
	if n.h != nil {
		n.h.Close()
	}
	if n.ns.IsOpen() {
		_ = n.ns.Close()
	}
}

// do runs fn on a thread switched into the host's namespace (for sockets
// and /proc/sys files, which belong to the namespace they are opened in).
func (n *host) do(fn func() error) error {
	if !n.ns.IsOpen() {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(n.ns); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			// Only a thread back in its own namespace may serve others;
			// otherwise it ends with this goroutine.
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// LinkByName replaces "ip link show dev NAME".
func (n *host) LinkByName(name string) (netlink.Link, error) {
	return n.h.LinkByName(name)
}

// LinkByIndex replaces "ip link show" for one interface index.
func (n *host) LinkByIndex(i int) (netlink.Link, error) {
	return n.h.LinkByIndex(i)
}

// LinkName returns the name of the interface with index i, or "#i" when
// it cannot be read. Replaces "ip link show" for one index.
func (n *host) LinkName(i int) string {
	if l, err := n.h.LinkByIndex(i); err == nil {
		return l.Attrs().Name
	}
	return fmt.Sprintf("#%d", i)
}

func family(v6 bool) int {
	if v6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// Routes replaces "ip route list table all" for one family.
func (n *host) Routes(v6 bool) ([]Route, error) {
	rs, err := n.h.RouteListFiltered(family(v6), &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		rt := Route{
			Link: r.LinkIndex, Table: r.Table, Type: r.Type,
			Scope: int(r.Scope), Protocol: int(r.Protocol),
		}
		if r.Dst == nil {
			rt.Default = true
			continue
		}
		p, ok := prefixOf(r.Dst)
		if !ok {
			continue
		}
		rt.Dst = p.Masked()
		out = append(out, rt)
	}
	return out, nil
}

// Addrs replaces "ip -f FAMILY addr show".
func (n *host) Addrs(v6 bool) ([]Addr, error) {
	as, err := n.h.AddrList(nil, family(v6))
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make([]Addr, 0, len(as))
	for _, a := range as {
		p, ok := prefixOf(a.IPNet)
		if !ok {
			continue
		}
		ad := Addr{
			Link: a.LinkIndex, Prefix: p, Label: a.Label,
			Tentative: a.Flags&unix.IFA_F_TENTATIVE != 0,
			DADFailed: a.Flags&unix.IFA_F_DADFAILED != 0,
		}
		if b, ok := netip.AddrFromSlice(a.Broadcast); ok {
			ad.Broadcast = b.Unmap()
		}
		out = append(out, ad)
	}
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

func ipNet(ip netip.Addr, bits int) *net.IPNet {
	size := 32
	if ip.Is6() {
		size = 128
	}
	return &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(bits, size)}
}

// AddAddr replaces "ip addr add IP/BITS [brd B] dev NIC [nodad]
// [noprefixroute] [label L] [preferred_lft X]".
func (n *host) AddAddr(link netlink.Link, c *Config, p Placement) error {
	a := &netlink.Addr{IPNet: ipNet(c.IP, p.Bits), Label: c.Label(p.NIC)}
	if p.Broadcast.IsValid() {
		a.Broadcast = net.IP(p.Broadcast.AsSlice())
	}
	if c.V6 {
		if c.NoDAD {
			a.Flags |= unix.IFA_F_NODAD
		}
		a.PreferedLft = int(c.PreferredLft)
		a.ValidLft = Forever
	}
	if c.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	return n.h.AddrAdd(link, a)
}

// DelAddr replaces "ip addr del IP/BITS dev NIC".
func (n *host) DelAddr(link netlink.Link, ip netip.Addr, bits int) error {
	return n.h.AddrDel(link, &netlink.Addr{IPNet: ipNet(ip, bits)})
}

// SetUp replaces "ip link set NIC up".
func (n *host) SetUp(link netlink.Link) error { return n.h.LinkSetUp(link) }

// FlushRouteCache replaces "ip route flush cache".
func (n *host) FlushRouteCache(v6 bool) error {
	path := "/proc/sys/net/ipv4/route/flush"
	if v6 {
		path = "/proc/sys/net/ipv6/route/flush"
	}
	return n.do(func() error { return os.WriteFile(path, []byte("1\n"), 0) })
}

// linkState says whether a link can carry traffic: administratively up
// with a carrier (loopback and interfaces that report no operational
// state count as having one).
func linkState(l netlink.Link) (adminUp, carrier bool) {
	a := l.Attrs()
	adminUp = a.Flags&net.FlagUp != 0
	carrier = a.RawFlags&unix.IFF_LOWER_UP != 0
	if a.OperState == netlink.OperUp || (a.Flags&net.FlagLoopback != 0 && adminUp) {
		carrier = true
	}
	return adminUp, carrier
}
