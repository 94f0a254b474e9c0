package ipaddr2

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAddrLabelConfig(t *testing.T) {
	for _, tt := range []struct {
		params map[string]string
		label  bool
		value  uint32
	}{
		{map[string]string{"ip": "fd00::5"}, true, 99}, // 4.16's default
		{map[string]string{"ip": "fd00::5", "lvs_ipv6_addrlabel": "false"}, false, 99},
		{map[string]string{"ip": "fd00::5", "lvs_ipv6_addrlabel_value": "7"}, true, 7},
		{map[string]string{"ip": "192.0.2.5", "lvs_ipv6_addrlabel": "true"}, false, 99}, // IPv4: no effect
	} {
		c, err := ParseConfig(request(t, tt.params, nil))
		if err != nil {
			t.Fatalf("ParseConfig(%v): %v", tt.params, err)
		}
		if c.AddrLabel != tt.label || c.AddrLabelValue != tt.value || c.Unsupported != "" {
			t.Errorf("ParseConfig(%v) = label %v value %d unsupported %q, want %v %d", tt.params, c.AddrLabel, c.AddrLabelValue, c.Unsupported, tt.label, tt.value)
		}
	}
	for _, v := range []string{"-1", "x", "4294967296"} {
		if _, err := ParseConfig(request(t, map[string]string{"ip": "fd00::5", "lvs_ipv6_addrlabel_value": v}, nil)); err == nil {
			t.Errorf("ParseConfig(lvs_ipv6_addrlabel_value=%s): no error", v)
		}
	}
}

// TestAddrLabelMsg checks the message against struct ifaddrlblmsg and
// what "ip addrlabel add prefix fd00::5 label 99" sends.
func TestAddrLabelMsg(t *testing.T) {
	m := addrLabelMsg(unix.RTM_NEWADDRLABEL, unix.NLM_F_CREATE|unix.NLM_F_EXCL, netip.MustParseAddr("fd00::5"), 99)
	b := m.b
	if typ := binary.NativeEndian.Uint16(b[4:6]); typ != unix.RTM_NEWADDRLABEL {
		t.Errorf("type %d, want RTM_NEWADDRLABEL", typ)
	}
	if fl := binary.NativeEndian.Uint16(b[6:8]); fl != unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL {
		t.Errorf("flags %#x", fl)
	}
	hdr := b[unix.NLMSG_HDRLEN : unix.NLMSG_HDRLEN+12]
	if want := []byte{unix.AF_INET6, 0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0}; !bytes.Equal(hdr, want) {
		t.Errorf("ifaddrlblmsg % x, want % x", hdr, want)
	}
	got := map[uint16][]byte{}
	attrs(b[unix.NLMSG_HDRLEN+12:], func(typ uint16, v []byte) { got[typ] = v })
	if a := got[ifalAddress]; !bytes.Equal(a, netip.MustParseAddr("fd00::5").AsSlice()) {
		t.Errorf("IFAL_ADDRESS % x", a)
	}
	if l := got[ifalLabel]; len(l) != 4 || binary.NativeEndian.Uint32(l) != 99 {
		t.Errorf("IFAL_LABEL % x, want 99", l)
	}
}
