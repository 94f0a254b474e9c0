package ipaddr2

import (
	"fmt"
	"net/netip"
)

// Route is the part of a kernel route that interface selection needs.
type Route struct {
	Dst      netip.Prefix // destination; the default route is 0.0.0.0/0 or ::/0
	Link     int          // output interface index
	Table    int
	Type     int // RTN_* (1 unicast, 2 local, 6 blackhole, 7 unreachable, 8 prohibit)
	Scope    int // RT_SCOPE_* (0 universe, 253 link, 254 host)
	Protocol int
	Default  bool // no RTA_DST: a default route
}

// Addr is an address configured on an interface.
type Addr struct {
	Link      int          // interface index
	Prefix    netip.Prefix // address with its prefix length
	Broadcast netip.Addr   // IPv4 only; invalid when none
	Label     string
	Tentative bool
	DADFailed bool
}

// Routing constants, as in linux/rtnetlink.h.
const (
	tableMain   = 254
	tableLocal  = 255
	rtnUnicast  = 1
	rtnLocal    = 2
	scopeLink   = 253
	scopeHost   = 254
	scopeGlobal = 0
)

// Placement is where an address goes: its interface and prefix length.
type Placement struct {
	Link      int    // interface index
	NIC       string // its name (filled in by the caller)
	Bits      int
	Broadcast netip.Addr // IPv4 broadcast to set; invalid for none
}

// ErrNoRoute is returned by FindIf when neither the interface nor the
// prefix can be found.
type ErrNoRoute struct{ IP netip.Addr }

func (e *ErrNoRoute) Error() string {
	return fmt.Sprintf("no route matches %s: give nic and cidr_netmask, or add a route for its subnet", e.IP)
}

// FindIf chooses the interface and prefix length for ip, the way
// resource-agents' findif does, from the routes of the main table (and the
// local table for 127.0.0.0/8):
//
//   - only unicast routes with a prefix (not default routes) are candidates;
//     for IPv4 only routes of link scope; with proto >= 0 only routes of
//     that protocol; with nic only routes through it;
//   - with a prefix length given, a route must contain ip/bits;
//   - the longest prefix wins; among equals the last one listed;
//   - nic (an interface index, 0 for none) and bits, when given, are kept.
//
// Unlike findif after resource-agents 4.12 it never fails because several
// routes match (upstream issue #1963).
func FindIf(ip netip.Addr, nic int, bits int, proto int, routes []Route) (Placement, error) {
	if nic > 0 && bits > 0 {
		return Placement{Link: nic, Bits: bits}, nil
	}
	var best *Route
	consider := func(r *Route) {
		if best == nil || r.Dst.Bits() >= best.Dst.Bits() {
			best = r
		}
	}
	for i := range routes {
		r := &routes[i]
		// Multipath and nexthop-object routes carry no single interface.
		if r.Table != tableMain || r.Type != rtnUnicast || r.Default || r.Link <= 0 {
			continue
		}
		if !matches(r, ip, nic, bits, proto) {
			continue
		}
		if ip.Is4() && r.Scope != scopeLink {
			continue
		}
		consider(r)
	}
	if best == nil && ip.Is4() && ip.As4()[0] == 127 {
		for i := range routes {
			r := &routes[i]
			if r.Table == tableLocal && r.Type == rtnLocal && r.Scope == scopeHost &&
				r.Dst.Bits() < 32 && matches(r, ip, nic, bits, proto) {
				consider(r)
			}
		}
	}
	if best == nil {
		return Placement{}, &ErrNoRoute{IP: ip}
	}
	p := Placement{Link: nic, Bits: bits}
	if p.Link <= 0 {
		p.Link = best.Link
	}
	if p.Bits <= 0 {
		p.Bits = best.Dst.Bits()
	}
	return p, nil
}

func matches(r *Route, ip netip.Addr, nic int, bits, proto int) bool {
	if !r.Dst.IsValid() || r.Dst.Addr().Is4() != ip.Is4() || !r.Dst.Contains(ip) {
		return false
	}
	if bits > 0 && r.Dst.Bits() > bits {
		return false
	}
	if nic > 0 && r.Link != nic {
		return false
	}
	return proto < 0 || r.Protocol == proto
}

// ChooseBroadcast returns the IPv4 broadcast address to configure: the
// explicit one, none for "-", the computed one for "+"; when empty, the
// broadcast of an address in the same subnet on nic, else the computed one
// (resource-agents leaves it unset then, upstream issue #656). Prefixes of
// 31 and 32 bits get no broadcast unless one is given.
func ChooseBroadcast(param string, ip netip.Addr, bits int, nic int, addrs []Addr) netip.Addr {
	if !ip.Is4() {
		return netip.Addr{}
	}
	switch param {
	case "-":
		return netip.Addr{}
	case "+":
		return computedBroadcast(ip, bits)
	case "":
	default:
		b, _ := netip.ParseAddr(param)
		return b
	}
	subnet := netip.PrefixFrom(ip, bits).Masked()
	for _, a := range addrs {
		if a.Link == nic && a.Prefix.Addr().Is4() && a.Prefix.Bits() == bits &&
			subnet.Contains(a.Prefix.Addr()) && a.Broadcast.IsValid() && !a.Broadcast.IsUnspecified() {
			return a.Broadcast
		}
	}
	return computedBroadcast(ip, bits)
}

func computedBroadcast(ip netip.Addr, bits int) netip.Addr {
	if bits >= 31 || bits < 0 {
		return netip.Addr{}
	}
	b := ip.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= ^uint32(0) >> bits
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Served is the monitor's view of an address.
type Served int

// States of an address relative to the configuration.
const (
	Absent    Served = iota // not on any interface
	Here                    // on the expected interface with the expected prefix
	Elsewhere               // present, but on another interface or prefix
	Failed                  // on the expected interface, but DAD failed
)

// Locate reports whether ip is served as placed, and where it is otherwise.
func Locate(ip netip.Addr, p Placement, addrs []Addr) (Served, []Addr) {
	var found []Addr
	state := Absent
	for _, a := range addrs {
		if a.Prefix.Addr() != ip {
			continue
		}
		found = append(found, a)
		if a.Link == p.Link && a.Prefix.Bits() == p.Bits {
			if a.DADFailed {
				if state != Here {
					state = Failed
				}
				continue
			}
			state = Here
		}
	}
	if state == Absent && len(found) > 0 {
		state = Elsewhere
	}
	return state, found
}
