package ipaddr2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rtnl is a minimal rtnetlink client: just the requests IPaddr2 makes,
// with no allocation-heavy attribute decoding, because a monitor runs every
// few seconds for every address on every node.
type rtnl struct {
	fd  int
	seq uint32
	buf []byte
}

// dialRtnl opens a NETLINK_ROUTE socket in the calling thread's network
// namespace, with a receive timeout so no call can hang.
func dialRtnl(timeout time.Duration) (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	tv := unix.NsecToTimeval(int64(timeout))
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	// Let the kernel filter dumps (a route dump by table), since 4.20;
	// older kernels send everything, which the callers filter anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	return &rtnl{fd: fd, buf: make([]byte, 32<<10)}, nil
}

func (c *rtnl) Close() { unix.Close(c.fd) }

// msg builds one request: header, fixed part, attributes.
type msg struct {
	b []byte
}

func newMsg(typ, flags uint16, fixed []byte) *msg {
	m := &msg{b: make([]byte, unix.NLMSG_HDRLEN, 128)}
	binary.NativeEndian.PutUint16(m.b[4:6], typ)
	binary.NativeEndian.PutUint16(m.b[6:8], flags|unix.NLM_F_REQUEST)
	m.b = append(m.b, fixed...)
	m.pad()
	return m
}

func (m *msg) pad() {
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *msg) attr(typ uint16, data []byte) {
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:2], uint16(4+len(data)))
	binary.NativeEndian.PutUint16(h[2:4], typ)
	m.b = append(m.b, h[:]...)
	m.b = append(m.b, data...)
	m.pad()
}

func (m *msg) u32(typ uint16, v uint32) {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	m.attr(typ, b[:])
}

// do sends m and calls each for every reply message until the kernel says
// done (dump) or acknowledges (request). A kernel error is returned as its
// errno, so callers can test for EEXIST, EADDRNOTAVAIL, ENODEV, EPERM.
func (c *rtnl) do(m *msg, each func(typ uint16, data []byte)) error {
	c.seq++
	binary.NativeEndian.PutUint32(m.b[0:4], uint32(len(m.b)))
	binary.NativeEndian.PutUint32(m.b[8:12], c.seq)
	if err := unix.Sendto(c.fd, m.b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	dump := binary.NativeEndian.Uint16(m.b[6:8])&unix.NLM_F_DUMP == unix.NLM_F_DUMP
	interrupted := false
	for {
		n, _, err := unix.Recvfrom(c.fd, c.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if err == unix.EAGAIN {
				return errors.New("netlink: no answer from the kernel in time")
			}
			return err
		}
		b := c.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			typ := binary.NativeEndian.Uint16(b[4:6])
			seq := binary.NativeEndian.Uint32(b[8:12])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return errors.New("netlink: malformed message")
			}
			body := b[unix.NLMSG_HDRLEN:l]
			if binary.NativeEndian.Uint16(b[6:8])&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			if next := nlmAlign(l); next < len(b) {
				b = b[next:]
			} else {
				b = nil
			}
			if seq != c.seq {
				continue
			}
			switch typ {
			case unix.NLMSG_DONE:
				if len(body) >= 4 {
					if e := int32(binary.NativeEndian.Uint32(body[0:4])); e < 0 {
						return syscall.Errno(-e)
					}
				}
				if interrupted {
					return errDumpInterrupted
				}
				return nil
			case unix.NLMSG_ERROR:
				if len(body) < 4 {
					return errors.New("netlink: short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(body[0:4])); e != 0 {
					return syscall.Errno(-e)
				}
				return nil // an acknowledgement
			}
			each(typ, body)
			if !dump {
				// A single answer is followed by nothing else.
				return nil
			}
		}
	}
}

// errDumpInterrupted: the table changed during the dump, which may have
// missed entries; the caller dumps again.
var errDumpInterrupted = errors.New("netlink dump interrupted by a concurrent change")

// dump runs a dump request, again when the kernel says a concurrent change
// interrupted it (another agent adding an address meanwhile).
func (c *rtnl) dump(build func() *msg, each func(typ uint16, data []byte), reset func()) error {
	var err error
	for try := 0; try < 5; try++ {
		reset()
		if err = c.do(build(), each); !errors.Is(err, errDumpInterrupted) {
			return err
		}
	}
	return err
}

func nlmAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// attrs walks the rtattrs in b.
func attrs(b []byte, each func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) &^ unix.NLA_F_NESTED
		if l < 4 || l > len(b) {
			return
		}
		each(typ, b[4:l])
		next := (l + 3) &^ 3
		if next >= len(b) {
			return
		}
		b = b[next:]
	}
}

// Link is what IPaddr2 needs to know of an interface.
type Link struct {
	Index   int
	Name    string
	Flags   uint32 // IFF_*
	MAC     MAC
	OperUp  bool // IF_OPER_UP
	Unknown bool // IF_OPER_UNKNOWN (loopback, dummies, tunnels)
}

func parseLink(b []byte) (Link, bool) {
	if len(b) < unix.SizeofIfInfomsg {
		return Link{}, false
	}
	info := (*unix.IfInfomsg)(unsafe.Pointer(&b[0]))
	l := Link{Index: int(info.Index), Flags: info.Flags}
	attrs(b[unix.SizeofIfInfomsg:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_IFNAME:
			l.Name = cstring(v)
		case unix.IFLA_ADDRESS:
			l.MAC = MAC(append([]byte(nil), v...))
		case unix.IFLA_OPERSTATE:
			if len(v) == 1 {
				l.OperUp = v[0] == operUp
				l.Unknown = v[0] == operUnknown
			}
		}
	})
	return l, true
}

func cstring(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

// getLink replaces "ip link show dev NAME" (name != "") or the lookup of
// one interface index, without interface statistics.
func (c *rtnl) getLink(name string, index int) (Link, error) {
	info := make([]byte, unix.SizeofIfInfomsg)
	info[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(info[4:8], uint32(int32(index)))
	m := newMsg(unix.RTM_GETLINK, 0, info)
	if name != "" {
		m.attr(unix.IFLA_IFNAME, append([]byte(name), 0))
	}
	m.u32(unix.IFLA_EXT_MASK, rtextFilterSkipStats)
	var l Link
	found := false
	err := c.do(m, func(typ uint16, b []byte) {
		if typ == unix.RTM_NEWLINK {
			l, found = parseLink(b)
		}
	})
	if err == nil && !found {
		err = unix.ENODEV
	}
	return l, err
}

// addrs replaces "ip -f FAMILY addr show".
func (c *rtnl) addrs(v6 bool) ([]Addr, error) {
	fam := byte(unix.AF_INET)
	if v6 {
		fam = unix.AF_INET6
	}
	build := func() *msg { return newMsg(unix.RTM_GETADDR, unix.NLM_F_DUMP, []byte{fam, 0, 0, 0, 0, 0, 0, 0}) }
	var out []Addr
	err := c.dump(build, func(typ uint16, b []byte) {
		if typ != unix.RTM_NEWADDR || len(b) < unix.SizeofIfAddrmsg {
			return
		}
		h := (*unix.IfAddrmsg)(unsafe.Pointer(&b[0]))
		if h.Family != fam {
			return
		}
		a := Addr{Link: int(h.Index)}
		flags := uint32(h.Flags)
		var local, address netip.Addr
		attrs(b[unix.SizeofIfAddrmsg:], func(t uint16, v []byte) {
			switch t {
			case unix.IFA_LOCAL:
				local, _ = netip.AddrFromSlice(v)
			case unix.IFA_ADDRESS:
				address, _ = netip.AddrFromSlice(v)
			case unix.IFA_BROADCAST:
				a.Broadcast, _ = netip.AddrFromSlice(v)
			case unix.IFA_LABEL:
				a.Label = cstring(v)
			case unix.IFA_FLAGS:
				if len(v) == 4 {
					flags = binary.NativeEndian.Uint32(v)
				}
			}
		})
		// IFA_LOCAL is the interface's own address (they differ only on
		// point-to-point links, where IFA_ADDRESS is the peer).
		ip := local
		if !ip.IsValid() {
			ip = address
		}
		if !ip.IsValid() {
			return
		}
		a.Prefix = netip.PrefixFrom(ip, int(h.Prefixlen))
		a.Tentative = flags&unix.IFA_F_TENTATIVE != 0
		a.DADFailed = flags&unix.IFA_F_DADFAILED != 0
		out = append(out, a)
	}, func() { out = out[:0] })
	return out, err
}

// routes replaces "ip route show table TABLE" for one family (the kernel
// may send other tables too; callers look at Route.Table).
func (c *rtnl) routes(v6 bool, table byte) ([]Route, error) {
	fam := byte(unix.AF_INET)
	bits := 32
	if v6 {
		fam, bits = unix.AF_INET6, 128
	}
	build := func() *msg {
		return newMsg(unix.RTM_GETROUTE, unix.NLM_F_DUMP, []byte{fam, 0, 0, 0, table, 0, 0, 0, 0, 0, 0, 0})
	}
	var out []Route
	err := c.dump(build, func(typ uint16, b []byte) {
		if typ != unix.RTM_NEWROUTE || len(b) < unix.SizeofRtMsg {
			return
		}
		h := (*unix.RtMsg)(unsafe.Pointer(&b[0]))
		if h.Family != fam {
			return
		}
		r := Route{Table: int(h.Table), Type: int(h.Type), Scope: int(h.Scope), Protocol: int(h.Protocol)}
		var dst netip.Addr
		attrs(b[unix.SizeofRtMsg:], func(t uint16, v []byte) {
			switch t {
			case unix.RTA_DST:
				dst, _ = netip.AddrFromSlice(v)
			case unix.RTA_OIF:
				if len(v) == 4 {
					r.Link = int(binary.NativeEndian.Uint32(v))
				}
			case unix.RTA_TABLE:
				if len(v) == 4 {
					r.Table = int(binary.NativeEndian.Uint32(v))
				}
			}
		})
		if !dst.IsValid() {
			if h.Dst_len != 0 {
				return
			}
			r.Default = true
			dst = netip.IPv4Unspecified()
			if v6 {
				dst = netip.IPv6Unspecified()
			}
		}
		if int(h.Dst_len) > bits {
			return
		}
		r.Dst = netip.PrefixFrom(dst, int(h.Dst_len)).Masked()
		out = append(out, r)
	}, func() { out = out[:0] })
	return out, err
}

// addrMsg builds RTM_NEWADDR/RTM_DELADDR for ip/bits on index.
func addrMsg(typ, flags uint16, ip netip.Addr, bits, index int) *msg {
	fam := byte(unix.AF_INET)
	if ip.Is6() {
		fam = unix.AF_INET6
	}
	fixed := make([]byte, unix.SizeofIfAddrmsg)
	fixed[0], fixed[1] = fam, byte(bits)
	if ip.Is4() && ip.As4()[0] == 127 {
		// As "ip addr add" does: loopback addresses have host scope, and
		// the kernel refuses them with any other.
		fixed[3] = unix.RT_SCOPE_HOST
	}
	binary.NativeEndian.PutUint32(fixed[4:8], uint32(index))
	m := newMsg(typ, flags|unix.NLM_F_ACK, fixed)
	m.attr(unix.IFA_LOCAL, ip.AsSlice())
	m.attr(unix.IFA_ADDRESS, ip.AsSlice())
	return m
}

// addAddr replaces "ip addr add IP/BITS [brd B] dev NIC [label L] [nodad]
// [noprefixroute] [preferred_lft X]".
func (c *rtnl) addAddr(index int, ip netip.Addr, bits int, brd netip.Addr, label string, flags uint32, preferred uint32, setLft bool) error {
	m := addrMsg(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ip, bits, index)
	if brd.IsValid() {
		m.attr(unix.IFA_BROADCAST, brd.AsSlice())
	}
	if label != "" {
		m.attr(unix.IFA_LABEL, append([]byte(label), 0))
	}
	if flags != 0 {
		m.b[unix.NLMSG_HDRLEN+2] = byte(flags) // ifa_flags holds the low byte
		m.u32(unix.IFA_FLAGS, flags)
	}
	if setLft {
		var ci [16]byte
		binary.NativeEndian.PutUint32(ci[0:4], preferred)
		binary.NativeEndian.PutUint32(ci[4:8], Forever)
		m.attr(unix.IFA_CACHEINFO, ci[:])
	}
	return c.do(m, func(uint16, []byte) {})
}

// delAddr replaces "ip addr del IP/BITS dev NIC".
func (c *rtnl) delAddr(index int, ip netip.Addr, bits int) error {
	return c.do(addrMsg(unix.RTM_DELADDR, 0, ip, bits, index), func(uint16, []byte) {})
}

// Attributes of address label messages (linux/if_addrlabel.h).
const (
	ifalAddress = 1
	ifalLabel   = 2
)

// addrLabelMsg builds RTM_NEWADDRLABEL/RTM_DELADDRLABEL for ip/128 with
// label value, on no particular interface.
func addrLabelMsg(typ, flags uint16, ip netip.Addr, value uint32) *msg {
	fixed := make([]byte, 12) // struct ifaddrlblmsg
	fixed[0], fixed[2] = unix.AF_INET6, 128
	m := newMsg(typ, flags|unix.NLM_F_ACK, fixed)
	m.attr(ifalAddress, ip.AsSlice())
	m.u32(ifalLabel, value)
	return m
}

// addAddrLabel replaces "ip addrlabel add prefix IP label VALUE".
func (c *rtnl) addAddrLabel(ip netip.Addr, value uint32) error {
	return c.do(addrLabelMsg(unix.RTM_NEWADDRLABEL, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ip, value), func(uint16, []byte) {})
}

// delAddrLabel replaces "ip addrlabel del prefix IP label VALUE".
func (c *rtnl) delAddrLabel(ip netip.Addr, value uint32) error {
	return c.do(addrLabelMsg(unix.RTM_DELADDRLABEL, 0, ip, value), func(uint16, []byte) {})
}

// setUp replaces "ip link set NIC up".
func (c *rtnl) setUp(index int) error {
	info := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(info[4:8], uint32(index))
	binary.NativeEndian.PutUint32(info[8:12], unix.IFF_UP)  // flags
	binary.NativeEndian.PutUint32(info[12:16], unix.IFF_UP) // change mask
	return c.do(newMsg(unix.RTM_NEWLINK, unix.NLM_F_ACK, info), func(uint16, []byte) {})
}

// Operational states (IFLA_OPERSTATE, RFC 2863).
const (
	operUnknown = 0
	operUp      = 6
)

// rtextFilterSkipStats asks RTM_GETLINK to leave out the statistics
// (RTEXT_FILTER_SKIP_STATS in linux/rtnetlink.h).
const rtextFilterSkipStats = 1 << 3
