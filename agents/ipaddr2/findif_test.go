package ipaddr2

import (
	"errors"
	"net/netip"
	"testing"
)

func rt(dst string, link int, scope int) Route {
	return Route{Dst: netip.MustParsePrefix(dst), Link: link, Table: tableMain, Type: rtnUnicast, Scope: scope, Protocol: 2}
}

func TestFindIf(t *testing.T) {
	ip4 := netip.MustParseAddr("192.0.2.55")
	ip6 := netip.MustParseAddr("fd00::55")
	static := rt("192.0.2.0/25", 3, scopeLink)
	static.Protocol = 4
	blackhole := rt("192.0.2.0/28", 9, scopeLink)
	blackhole.Type = 6
	local := Route{Dst: netip.MustParsePrefix("127.0.0.0/8"), Link: 100, Table: tableLocal, Type: rtnLocal, Scope: scopeHost}
	tests := []struct {
		name   string
		ip     netip.Addr
		nic    int
		bits   int
		proto  int
		routes []Route
		want   Placement
		noRt   bool
	}{
		{name: "connected route", ip: ip4, routes: []Route{rt("192.0.2.0/24", 1, scopeLink)},
			want: Placement{Link: 1, Bits: 24}},
		{name: "longest prefix wins", ip: ip4, bits: -1, routes: []Route{
			rt("192.0.0.0/16", 2, scopeLink), rt("192.0.2.0/24", 1, scopeLink), rt("192.0.2.0/23", 4, scopeLink)},
			want: Placement{Link: 1, Bits: 24}},
		{name: "tie: the last listed wins, no failure (#1963)", ip: ip4, routes: []Route{
			rt("192.0.2.0/24", 1, scopeLink), rt("192.0.2.0/24", 2, scopeLink)},
			want: Placement{Link: 2, Bits: 24}},
		{name: "IPv4 ignores routes via a gateway", ip: ip4, routes: []Route{rt("192.0.2.0/24", 1, scopeGlobal)},
			noRt: true},
		{name: "default route is no candidate", ip: ip4, routes: []Route{{Default: true, Link: 1, Table: tableMain, Type: rtnUnicast, Scope: scopeLink}},
			noRt: true},
		{name: "multipath route (no interface) ignored", ip: ip6, routes: []Route{rt("fd00::/64", 1, scopeGlobal), rt("fd00::/96", 0, scopeGlobal)},
			want: Placement{Link: 1, Bits: 64}},
		{name: "blackhole ignored", ip: ip4, routes: []Route{blackhole, rt("192.0.2.0/24", 1, scopeLink)},
			want: Placement{Link: 1, Bits: 24}},
		{name: "nic filters routes", ip: ip4, nic: 2, routes: []Route{
			rt("192.0.2.0/24", 1, scopeLink), rt("192.0.0.0/16", 2, scopeLink)},
			want: Placement{Link: 2, Bits: 16}},
		{name: "given prefix must fit in the route", ip: ip4, bits: 20, routes: []Route{
			rt("192.0.2.0/24", 1, scopeLink), rt("192.0.0.0/16", 2, scopeLink)},
			want: Placement{Link: 2, Bits: 20}},
		{name: "nic and prefix given need no route", ip: ip4, nic: 5, bits: 27,
			want: Placement{Link: 5, Bits: 27}},
		{name: "proto filter", ip: ip4, proto: 4, routes: []Route{rt("192.0.2.0/24", 1, scopeLink), static},
			want: Placement{Link: 3, Bits: 25}},
		{name: "no matching route", ip: ip4, routes: []Route{rt("198.51.100.0/24", 1, scopeLink)}, noRt: true},
		{name: "other family ignored", ip: ip4, routes: []Route{rt("fd00::/64", 1, scopeGlobal)}, noRt: true},
		{name: "IPv6 any scope", ip: ip6, routes: []Route{rt("fd00::/64", 1, scopeGlobal), rt("fd00::/48", 2, scopeGlobal)},
			want: Placement{Link: 1, Bits: 64}},
		{name: "loopback from the local table", ip: netip.MustParseAddr("127.0.0.2"), routes: []Route{local},
			want: Placement{Link: 100, Bits: 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto := tt.proto
			if proto == 0 {
				proto = -1
			}
			got, err := FindIf(tt.ip, tt.nic, tt.bits, proto, tt.routes)
			if tt.noRt {
				var e *ErrNoRoute
				if !errors.As(err, &e) {
					t.Fatalf("FindIf(%s) = %+v, %v, want ErrNoRoute", tt.ip, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FindIf(%s) = %+v, %v, want %+v", tt.ip, got, err, tt.want)
			}
		})
	}
}

func TestChooseBroadcast(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.55")
	existing := []Addr{
		{Link: 1, Prefix: netip.MustParsePrefix("192.0.2.1/24"), Broadcast: netip.MustParseAddr("192.0.2.254")},
		{Link: 2, Prefix: netip.MustParsePrefix("192.0.2.1/24"), Broadcast: netip.MustParseAddr("192.0.2.253")},
	}
	tests := []struct {
		name, param string
		nic         int
		bits        int
		addrs       []Addr
		want        string
	}{
		{"explicit", "192.0.2.127", 1, 24, existing, "192.0.2.127"},
		{"none", "-", 1, 24, existing, ""},
		{"computed", "+", 1, 24, existing, "192.0.2.255"},
		{"copied from the interface", "", 1, 24, existing, "192.0.2.254"},
		{"copied from the right interface", "", 2, 24, existing, "192.0.2.253"},
		{"computed when none to copy (#656)", "", 3, 24, existing, "192.0.2.255"},
		{"other prefix is not copied", "", 1, 25, existing, "192.0.2.127"},
		{"no broadcast for /31", "", 3, 31, nil, ""},
		{"no broadcast for /32", "+", 3, 32, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChooseBroadcast(tt.param, ip, tt.bits, tt.nic, tt.addrs)
			s := ""
			if got.IsValid() {
				s = got.String()
			}
			if s != tt.want {
				t.Errorf("ChooseBroadcast(%q, /%d, #%d) = %q, want %q", tt.param, tt.bits, tt.nic, s, tt.want)
			}
		})
	}
	if got := ChooseBroadcast("", netip.MustParseAddr("fd00::1"), 64, 1, nil); got.IsValid() {
		t.Errorf("ChooseBroadcast(IPv6) = %v, want none", got)
	}
}

func TestLocate(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.55")
	p := Placement{Link: 1, Bits: 24}
	a := func(link int, pfx string) Addr { return Addr{Link: link, Prefix: netip.MustParsePrefix(pfx)} }
	failed := a(1, "192.0.2.55/24")
	failed.DADFailed = true
	tests := []struct {
		name  string
		addrs []Addr
		want  Served
		found int
	}{
		{"absent", []Addr{a(1, "192.0.2.1/24")}, Absent, 0},
		{"here", []Addr{a(1, "192.0.2.1/24"), a(1, "192.0.2.55/24")}, Here, 1},
		{"other prefix", []Addr{a(1, "192.0.2.55/16")}, Elsewhere, 1},
		{"other interface", []Addr{a(2, "192.0.2.55/24")}, Elsewhere, 1},
		{"here and elsewhere", []Addr{a(2, "192.0.2.55/24"), a(1, "192.0.2.55/24")}, Here, 2},
		{"dad failed", []Addr{failed}, Failed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := Locate(ip, p, tt.addrs)
			if got != tt.want || len(found) != tt.found {
				t.Errorf("Locate() = %v with %d found, want %v with %d", got, len(found), tt.want, tt.found)
			}
		})
	}
}
