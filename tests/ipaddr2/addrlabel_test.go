//go:build system

package ipaddr2_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/netns"
	"github.com/paceline-ha/paceline/tests/proc"
)

// addrLabels returns the address label policy of namespace ns as
// prefix -> label ("ip -j addrlabel list").
func addrLabels(t *testing.T, ns string) map[string]int {
	t.Helper()
	var entries []struct {
		Address string `json:"address"`
		Prefix  int    `json:"prefixlen"`
		Label   int    `json:"label"`
	}
	out := proc.Run(t, "ip", "-n", ns, "-j", "addrlabel", "list")
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("ip -j addrlabel list: %v\n%s", err, out)
	}
	m := map[string]int{}
	for _, e := range entries {
		m[e.Address+"/"+strconv.Itoa(e.Prefix)] = e.Label
	}
	return m
}

// TestIPv6AddrLabel: an IPv6 address gets its address label on start and
// loses it on stop (lvs_ipv6_addrlabel, true by default as in
// resource-agents 4.16), with the configured value; none when turned off,
// and none for an IPv4 address.
func TestIPv6AddrLabel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]string
		prefix string // the label's entry, "" for none
		label  int
	}{
		{"default", map[string]string{"ip": "fd00:db8:1::65", "nodad": "true"}, "fd00:db8:1::65/128", 99},
		{"another value", map[string]string{"ip": "fd00:db8:1::66", "nodad": "true", "lvs_ipv6_addrlabel_value": "1234"}, "fd00:db8:1::66/128", 1234},
		{"turned off", map[string]string{"ip": "fd00:db8:1::67", "nodad": "true", "lvs_ipv6_addrlabel": "false"}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netns.NewPair(t)
			a := newAgent(t, p.A, tc.params)
			before := addrLabels(t, p.A)
			h.Expect(t, a.Call(t, "start"), ocf.Success, "")
			after := addrLabels(t, p.A)
			if tc.prefix == "" {
				if len(after) != len(before) {
					t.Errorf("labels %v after start, %v before: want none added", after, before)
				}
			} else if got, ok := after[tc.prefix]; !ok || got != tc.label {
				t.Errorf("after start the label of %s is %d (present %v), want %d; policy %v", tc.prefix, got, ok, tc.label, after)
			}
			h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
			if left := addrLabels(t, p.A); len(left) != len(before) {
				t.Errorf("labels %v after stop, want %v", left, before)
			}
		})
	}
}
