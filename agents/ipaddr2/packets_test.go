package ipaddr2

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestARPFrameRoundTrip(t *testing.T) {
	mac := MAC{0x02, 0, 0, 0, 0, 1}
	ip := netip.MustParseAddr("192.0.2.55")
	f := ARPFrame(arpRequest, mac, ip, MAC{0, 0, 0, 0, 0, 0}, ip)
	if !bytes.Equal(f[0:6], broadcastMAC) || !bytes.Equal(f[6:12], mac) || binary.BigEndian.Uint16(f[12:14]) != etherARP {
		t.Fatalf("Ethernet header = % x", f[:14])
	}
	p, ok := ParseARP(f[14:])
	if !ok || p.Op != arpRequest || p.SenderIP != ip || p.TargetIP != ip || p.SenderMAC.String() != mac.String() {
		t.Fatalf("ParseARP() = %+v, %v", p, ok)
	}
	probe := ARPFrame(arpRequest, mac, netip.IPv4Unspecified(), MAC{0, 0, 0, 0, 0, 0}, ip)
	if p, _ := ParseARP(probe[14:]); !p.SenderIP.IsUnspecified() || p.TargetIP != ip {
		t.Errorf("probe = %+v, want sender 0.0.0.0 target %s", p, ip)
	}
	if _, ok := ParseARP(f[14:30]); ok {
		t.Error("ParseARP(short) ok, want failure")
	}
}

func TestNAFrame(t *testing.T) {
	mac := MAC{0x02, 0, 0, 0, 0, 2}
	ip := netip.MustParseAddr("fd00::55")
	f := NAFrame(mac, ip)
	if !bytes.Equal(f[0:6], allNodesMAC) || binary.BigEndian.Uint16(f[12:14]) != etherIPv6 {
		t.Fatalf("Ethernet header = % x", f[:14])
	}
	pkt := f[14:]
	if pkt[7] != 255 {
		t.Errorf("hop limit = %d, want 255", pkt[7])
	}
	target, flags, ok := ParseNA(pkt)
	if !ok || target != ip || flags != 0x20 {
		t.Errorf("ParseNA() = %v %#x %v, want %v override", target, flags, ok, ip)
	}
	// A correct checksum sums to zero over the pseudo-header and message.
	src, dst := [16]byte(pkt[8:24]), [16]byte(pkt[24:40])
	if c := icmpv6Checksum(src, dst, pkt[40:]); c != 0 {
		t.Errorf("checksum verification = %#x, want 0", c)
	}
	if !bytes.Equal(pkt[40+26:40+32], mac) {
		t.Errorf("target link-layer option = % x, want %v", pkt[40+24:40+32], mac)
	}
}

func TestMACString(t *testing.T) {
	if got := (MAC{0x02, 0xab, 0, 0x10, 0xff, 0x9}).String(); got != "02:ab:00:10:ff:09" {
		t.Errorf("MAC.String() = %q", got)
	}
}
