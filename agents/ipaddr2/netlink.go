package ipaddr2

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoNamespace is returned when network_namespace names no namespace.
var ErrNoNamespace = errors.New("network namespace does not exist")

// host is the network stack the agent works on: the current network
// namespace, or the one named by network_namespace. Every operation goes
// through netlink on a socket opened in that namespace.
type host struct {
	nl *rtnl
	ns int // namespace fd, -1 for the current namespace
}

// openHost opens a netlink socket in the named namespace ("" = current).
// Replaces "ip netns exec NAME".
func openHost(nsName string, timeout time.Duration) (*host, error) {
	n := &host{ns: -1}
	if nsName != "" {
		fd, err := unix.Open(filepath.Join("/run/netns", nsName), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, fmt.Errorf("%w: %s", ErrNoNamespace, nsName)
			}
			return nil, fmt.Errorf("open network namespace %s: %w", nsName, err)
		}
		n.ns = fd
	}
	err := n.do(func() error {
		var err error
		n.nl, err = dialRtnl(timeout)
		return err
	})
	if err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *host) Close() {
	if n.nl != nil {
		n.nl.Close()
	}
	if n.ns >= 0 {
		unix.Close(n.ns)
	}
}

// do runs fn on a thread switched into the host's namespace, for sockets
// and /proc/sys files, which belong to the namespace they are opened in.
func (n *host) do(fn func() error) error {
	if n.ns < 0 {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(n.ns, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			// Only a thread back in its own namespace may serve others;
			// otherwise it ends with this goroutine.
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// LinkByName replaces "ip link show dev NAME".
func (n *host) LinkByName(name string) (Link, error) { return n.nl.getLink(name, 0) }

// LinkByIndex looks one interface up by its index.
func (n *host) LinkByIndex(i int) (Link, error) { return n.nl.getLink("", i) }

// LinkName returns the name of the interface with index i, or "#i".
func (n *host) LinkName(i int) string {
	if l, err := n.LinkByIndex(i); err == nil {
		return l.Name
	}
	return fmt.Sprintf("#%d", i)
}

// Routes replaces "ip route list table main" for one family, and "table
// local" too when loopback addresses need it.
func (n *host) Routes(v6, local bool) ([]Route, error) {
	rs, err := n.nl.routes(v6, tableMain)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	if local {
		ls, err := n.nl.routes(v6, tableLocal)
		if err != nil {
			return nil, fmt.Errorf("list local routes: %w", err)
		}
		rs = append(rs, ls...)
	}
	return rs, nil
}

// Addrs replaces "ip -f FAMILY addr show".
func (n *host) Addrs(v6 bool) ([]Addr, error) {
	as, err := n.nl.addrs(v6)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	return as, nil
}

// AddAddr adds the configured address as placed.
func (n *host) AddAddr(l Link, c *Config, p Placement) error {
	var flags uint32
	if c.V6 && c.NoDAD {
		flags |= unix.IFA_F_NODAD
	}
	if c.NoPrefixRoute {
		flags |= unix.IFA_F_NOPREFIXROUTE
	}
	return n.nl.addAddr(l.Index, c.IP, p.Bits, p.Broadcast, c.Label(p.NIC), flags, c.PreferredLft, c.V6)
}

// DelAddr removes ip/bits from the interface.
func (n *host) DelAddr(l Link, ip netip.Addr, bits int) error { return n.nl.delAddr(l.Index, ip, bits) }

// AddAddrLabel labels ip/128 with value in the address label policy.
func (n *host) AddAddrLabel(ip netip.Addr, value uint32) error { return n.nl.addAddrLabel(ip, value) }

// DelAddrLabel removes that label.
func (n *host) DelAddrLabel(ip netip.Addr, value uint32) error { return n.nl.delAddrLabel(ip, value) }

// SetUp brings the interface up.
func (n *host) SetUp(l Link) error { return n.nl.setUp(l.Index) }

// FlushRouteCache replaces "ip route flush cache".
func (n *host) FlushRouteCache(v6 bool) error {
	path := "/proc/sys/net/ipv4/route/flush"
	if v6 {
		path = "/proc/sys/net/ipv6/route/flush"
	}
	return n.do(func() error { return os.WriteFile(path, []byte("1\n"), 0) })
}

// linkState says whether a link can carry traffic: administratively up
// with a carrier (interfaces that report no operational state, such as
// loopback, count as having one).
func linkState(l Link) (adminUp, carrier bool) {
	adminUp = l.Flags&unix.IFF_UP != 0
	carrier = l.Flags&unix.IFF_LOWER_UP != 0 || l.OperUp || (l.Unknown && adminUp)
	return adminUp, carrier
}
