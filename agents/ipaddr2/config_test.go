package ipaddr2

import (
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// request builds the Request the executor would give validate-all.
func request(t *testing.T, params map[string]string, meta map[string]string) *ocf.Request {
	t.Helper()
	return ocf.NewRequest(Agent(), "vip", "validate-all", params, meta)
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		meta   map[string]string
		check  func(t *testing.T, c *Config)
		code   ocf.Status
		reason string
	}{
		{name: "defaults", params: map[string]string{"ip": "192.0.2.10"}, check: func(t *testing.T, c *Config) {
			if c.V6 || c.NIC != "" || c.Bits != -1 || c.ArpCount != 5 || c.ArpInterval != 200*time.Millisecond ||
				!c.ArpBackground || c.PreferredLft != Forever || !c.CheckLink || c.Proto != -1 || c.Unsupported != "" {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "ipv6 canonical", params: map[string]string{"ip": "FD00:0::10", "cidr_netmask": "64", "nodad": "true"},
			check: func(t *testing.T, c *Config) {
				if !c.V6 || c.IP.String() != "fd00::10" || c.Bits != 64 || !c.NoDAD {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "nic:label", params: map[string]string{"ip": "192.0.2.10", "nic": "eth0:web"}, check: func(t *testing.T, c *Config) {
			if c.NIC != "eth0" || c.IfLabel != "web" || c.Label("eth0") != "eth0:web" {
				t.Errorf("got nic %q label %q", c.NIC, c.IfLabel)
			}
		}},
		{name: "dotted netmask with warning", params: map[string]string{"ip": "192.0.2.10", "cidr_netmask": "255.255.255.0"},
			check: func(t *testing.T, c *Config) {
				if c.Bits != 24 || len(c.Warnings) != 1 {
					t.Errorf("got bits %d warnings %v", c.Bits, c.Warnings)
				}
			}},
		{name: "legacy netmask parameter", params: map[string]string{"ip": "192.0.2.10", "netmask": "16"},
			check: func(t *testing.T, c *Config) {
				if c.Bits != 16 {
					t.Errorf("bits = %d", c.Bits)
				}
			}},
		{name: "preferred_lft 0", params: map[string]string{"ip": "fd00::1", "preferred_lft": "0"},
			check: func(t *testing.T, c *Config) {
				if c.PreferredLft != 0 {
					t.Errorf("lft = %d", c.PreferredLft)
				}
			}},
		{name: "arp_bg false", params: map[string]string{"ip": "192.0.2.1", "arp_bg": "no", "send_arp_opts": "-A -q"},
			check: func(t *testing.T, c *Config) {
				if c.ArpBackground || !c.ArpReply {
					t.Errorf("bg %v reply %v", c.ArpBackground, c.ArpReply)
				}
			}},
		{name: "proto by name", params: map[string]string{"ip": "192.0.2.1", "proto": "static"},
			check: func(t *testing.T, c *Config) {
				if c.Proto != 4 {
					t.Errorf("proto = %d", c.Proto)
				}
			}},
		{name: "clone refused", params: map[string]string{"ip": "192.0.2.1"}, meta: map[string]string{"clone_max": "2"},
			check: func(t *testing.T, c *Config) {
				if !strings.Contains(c.Unsupported, "cloned") {
					t.Errorf("unsupported = %q", c.Unsupported)
				}
			}},
		{name: "lvs refused", params: map[string]string{"ip": "192.0.2.1", "lvs_support": "true"},
			check: func(t *testing.T, c *Config) {
				if !strings.Contains(c.Unsupported, "lvs_support") {
					t.Errorf("unsupported = %q", c.Unsupported)
				}
			}},
		{name: "missing ip", params: map[string]string{}, code: ocf.ErrConfigured, reason: "ip is required"},
		{name: "bad ip", params: map[string]string{"ip": "192.0.2.300"}, code: ocf.ErrConfigured, reason: "not a valid"},
		{name: "multicast", params: map[string]string{"ip": "224.0.0.1"}, code: ocf.ErrConfigured, reason: "not a unicast"},
		{name: "prefix too long", params: map[string]string{"ip": "192.0.2.1", "cidr_netmask": "33"}, code: ocf.ErrConfigured, reason: "1..32"},
		{name: "prefix zero", params: map[string]string{"ip": "fd00::1", "cidr_netmask": "0"}, code: ocf.ErrConfigured, reason: "1..128"},
		{name: "non-contiguous mask", params: map[string]string{"ip": "192.0.2.1", "cidr_netmask": "255.0.255.0"}, code: ocf.ErrConfigured, reason: "cidr_netmask"},
		{name: "bad broadcast", params: map[string]string{"ip": "192.0.2.1", "broadcast": "x"}, code: ocf.ErrConfigured, reason: "broadcast"},
		{name: "link-local needs nic", params: map[string]string{"ip": "fe80::1"}, code: ocf.ErrConfigured, reason: "nic is required"},
		{name: "arp_interval zero", params: map[string]string{"ip": "192.0.2.1", "arp_interval": "0"}, code: ocf.ErrConfigured, reason: "arp_interval"},
		{name: "arp_count text", params: map[string]string{"ip": "192.0.2.1", "arp_count": "five"}, code: ocf.ErrConfigured, reason: "arp_count"},
		{name: "empty preferred_lft", params: map[string]string{"ip": "fd00::1", "preferred_lft": ""}, code: ocf.ErrConfigured, reason: "preferred_lft"},
		{name: "bad arp_sender", params: map[string]string{"ip": "192.0.2.1", "arp_sender": "magic"}, code: ocf.ErrConfigured, reason: "arp_sender"},
		{name: "nic too long", params: map[string]string{"ip": "192.0.2.1", "nic": "averyveryverylongname0"}, code: ocf.ErrConfigured, reason: "not an interface name"},
		{name: "namespace path", params: map[string]string{"ip": "192.0.2.1", "network_namespace": "../x"}, code: ocf.ErrConfigured, reason: "network_namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(request(t, tt.params, tt.meta))
			if tt.check != nil {
				if err != nil {
					t.Fatalf("ParseConfig(%v) error %v", tt.params, err)
				}
				tt.check(t, c)
				return
			}
			if got := ocf.CodeOf(err); got != tt.code || !strings.Contains(ocf.ReasonOf(err), tt.reason) {
				t.Errorf("ParseConfig(%v) = %v (%v), want %v containing %q", tt.params, got, err, tt.code, tt.reason)
			}
		})
	}
}

func TestCheckLabel(t *testing.T) {
	c := &Config{IfLabel: "verylonglabel"}
	if err := c.CheckLabel("eth0"); ocf.CodeOf(err) != ocf.ErrConfigured {
		t.Errorf("CheckLabel(eth0:verylonglabel) = %v, want OCF_ERR_CONFIGURED", err)
	}
	c.IfLabel = "vip"
	if err := c.CheckLabel("eth0"); err != nil {
		t.Errorf("CheckLabel(eth0:vip) = %v", err)
	}
}
