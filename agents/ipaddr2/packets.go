package ipaddr2

import (
	"encoding/binary"
	"net/netip"
)

// Ethernet types.
const (
	etherARP  = 0x0806
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
)

// ARP operations.
const (
	arpRequest = 1
	arpReply   = 2
)

var broadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ARPFrame builds an Ethernet frame carrying an ARP packet. A gratuitous
// announcement has sender and target protocol address both set to the
// address; a probe (RFC 5227) has sender 0.0.0.0.
func ARPFrame(op uint16, srcMAC MAC, senderIP netip.Addr, targetMAC MAC, targetIP netip.Addr) []byte {
	f := make([]byte, 14+28)
	copy(f[0:6], broadcastMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:14], etherARP)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:2], 1) // Ethernet
	binary.BigEndian.PutUint16(a[2:4], etherIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], op)
	copy(a[8:14], srcMAC)
	s4 := senderIP.As4()
	copy(a[14:18], s4[:])
	copy(a[18:24], targetMAC)
	t4 := targetIP.As4()
	copy(a[24:28], t4[:])
	return f
}

// ARPPacket is a parsed Ethernet/IPv4 ARP packet.
type ARPPacket struct {
	Op        uint16
	SenderMAC MAC
	SenderIP  netip.Addr
	TargetMAC MAC
	TargetIP  netip.Addr
}

// ParseARP parses an ARP packet (without the Ethernet header).
func ParseARP(b []byte) (ARPPacket, bool) {
	if len(b) < 28 || binary.BigEndian.Uint16(b[0:2]) != 1 ||
		binary.BigEndian.Uint16(b[2:4]) != etherIPv4 || b[4] != 6 || b[5] != 4 {
		return ARPPacket{}, false
	}
	return ARPPacket{
		Op:        binary.BigEndian.Uint16(b[6:8]),
		SenderMAC: MAC(append([]byte(nil), b[8:14]...)),
		SenderIP:  netip.AddrFrom4([4]byte(b[14:18])),
		TargetMAC: MAC(append([]byte(nil), b[18:24]...)),
		TargetIP:  netip.AddrFrom4([4]byte(b[24:28])),
	}, true
}

// allNodes is ff02::1 and its multicast MAC.
var (
	allNodes    = netip.MustParseAddr("ff02::1")
	allNodesMAC = MAC{0x33, 0x33, 0, 0, 0, 1}
)

// NAFrame builds an Ethernet frame with an unsolicited neighbour
// advertisement (RFC 4861 §7.2.6) for target, sent from target to all
// nodes with the override flag and the target link-layer address option.
func NAFrame(srcMAC MAC, target netip.Addr) []byte {
	const icmpLen = 24 + 8
	f := make([]byte, 14+40+icmpLen)
	copy(f[0:6], allNodesMAC)
	copy(f[6:12], srcMAC)
	binary.BigEndian.PutUint16(f[12:14], etherIPv6)
	ip := f[14:54]
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], icmpLen)
	ip[6] = 58  // ICMPv6
	ip[7] = 255 // hop limit required by NDP
	src, dst := target.As16(), allNodes.As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])
	m := f[54:]
	m[0] = 136    // neighbour advertisement
	m[4] = 1 << 5 // override
	copy(m[8:24], src[:])
	m[24], m[25] = 2, 1 // target link-layer address, 8 bytes
	copy(m[26:32], srcMAC)
	binary.BigEndian.PutUint16(m[2:4], icmpv6Checksum(src, dst, m))
	return f
}

// ParseNA returns the target of an ICMPv6 neighbour advertisement in an
// IPv6 packet (without the Ethernet header), and its flags byte.
func ParseNA(b []byte) (target netip.Addr, flags byte, ok bool) {
	if len(b) < 40+24 || b[0]>>4 != 6 || b[6] != 58 {
		return netip.Addr{}, 0, false
	}
	m := b[40:]
	if m[0] != 136 {
		return netip.Addr{}, 0, false
	}
	return netip.AddrFrom16([16]byte(m[8:24])), m[4], true
}

func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// MAC is a link-layer (Ethernet) address.
type MAC []byte

// String formats the address as aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(m)*3)
	for i, c := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[c>>4], hex[c&0xf])
	}
	return string(b)
}
