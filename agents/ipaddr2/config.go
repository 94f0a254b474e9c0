package ipaddr2

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Forever is the lifetime value netlink uses for "forever".
const Forever = 0xffffffff

// Config is the validated configuration of one resource.
type Config struct {
	IP   netip.Addr
	V6   bool
	NIC  string // base interface, "" = from the routing table
	Bits int    // prefix length, -1 = from the routing table

	Broadcast string // "", "+", "-" or an IPv4 address
	IfLabel   string // the label suffix (without "nic:")

	ArpInterval     time.Duration
	ArpCount        int
	ArpCountRefresh int
	ArpBackground   bool
	ArpReply        bool // send ARP replies instead of requests (send_arp_opts -A)

	FlushRoutes   bool
	RunArping     bool
	NoDAD         bool
	NoPrefixRoute bool
	PreferredLft  uint32

	Netns     string
	Proto     int // route protocol filter, -1 = any
	CheckLink bool

	// AddrLabel puts an IPv6 address label on the address, so that the
	// kernel does not pick it as the source of the node's own traffic
	// (lvs_ipv6_addrlabel, lvs_ipv6_addrlabel_value).
	AddrLabel      bool
	AddrLabelValue uint32

	// Warnings are accepted oddities the actions log.
	Warnings []string

	// Unsupported is set when the configuration asks for a feature this
	// agent does not implement; start and validate-all refuse it.
	Unsupported string
}

// Label returns the full address label (nic:iflabel), or "" for none.
func (c *Config) Label(nic string) string {
	if c.IfLabel == "" || c.V6 {
		return ""
	}
	return nic + ":" + c.IfLabel
}

var protoNames = map[string]int{
	"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4,
	"gated": 8, "ra": 9, "mrt": 10, "zebra": 11, "bird": 12, "dnrouted": 13,
	"xorp": 14, "ntk": 15, "dhcp": 16, "keepalived": 18, "babel": 42,
	"bgp": 186, "isis": 187, "ospf": 188, "rip": 189, "eigrp": 192,
}

// ParseConfig checks the parameters of r. Its errors are configuration
// errors (OCF_ERR_CONFIGURED) that name the parameter; the actions decide
// what such an error means for them (a monitor never returns 6).
func ParseConfig(r *ocf.Request) (*Config, error) {
	c := &Config{Bits: -1, Proto: -1}
	raw := strings.TrimSpace(r.Param("ip"))
	if raw == "" {
		return nil, ocf.NotConfigured("parameter ip is required")
	}
	ip, err := netip.ParseAddr(raw)
	if err != nil || ip.Zone() != "" {
		return nil, ocf.NotConfigured("ip=%q is not a valid IPv4 or IPv6 address", raw)
	}
	c.IP = ip.Unmap()
	c.V6 = strings.Contains(raw, ":")
	if c.V6 != c.IP.Is6() {
		return nil, ocf.NotConfigured("ip=%q is not a valid IPv4 or IPv6 address", raw)
	}
	if c.IP.IsUnspecified() || c.IP.IsMulticast() || c.IP == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return nil, ocf.NotConfigured("ip=%s is not a unicast address", c.IP)
	}

	c.NIC = strings.TrimSpace(r.Param("nic"))
	c.IfLabel = r.Param("iflabel")
	if i := strings.IndexByte(c.NIC, ':'); i >= 0 {
		c.IfLabel = c.NIC[i+1:]
		c.NIC = c.NIC[:i]
	}
	if c.NIC != "" && (len(c.NIC) > 15 || strings.ContainsAny(c.NIC, "/ \t\n")) {
		return nil, ocf.NotConfigured("nic=%q is not an interface name", c.NIC)
	}
	if c.NIC == "" && c.V6 && c.IP.IsLinkLocalUnicast() {
		return nil, ocf.NotConfigured("nic is required for the link-local address %s", c.IP)
	}

	mask := r.Param("cidr_netmask")
	if mask == "" {
		mask = r.Param("netmask") // the old name, still honoured upstream
	}
	if mask = strings.TrimSpace(mask); mask != "" {
		bits, err := parsePrefixLen(mask, c.V6)
		if err != nil {
			return nil, err
		}
		c.Bits = bits
		if strings.Contains(mask, ".") {
			c.Warnings = append(c.Warnings, fmt.Sprintf("please write the netmask %s as the prefix length %d", mask, bits))
		}
	}

	c.Broadcast = strings.TrimSpace(r.Param("broadcast"))
	if c.Broadcast != "" && c.Broadcast != "+" && c.Broadcast != "-" && !c.V6 {
		b, err := netip.ParseAddr(c.Broadcast)
		if err != nil || !b.Is4() {
			return nil, ocf.NotConfigured("broadcast=%q is not an IPv4 address, + or -", c.Broadcast)
		}
	}

	if n, err := r.Int("arp_interval"); err != nil {
		return nil, err
	} else if n <= 0 {
		return nil, ocf.NotConfigured("arp_interval must be a positive number of milliseconds, not %d", n)
	} else {
		c.ArpInterval = time.Duration(n) * time.Millisecond
	}
	if c.ArpCount, err = r.IntIn("arp_count", 0, ocf.MaxInt); err != nil {
		return nil, err
	}
	if c.ArpCountRefresh, err = r.IntIn("arp_count_refresh", 0, ocf.MaxInt); err != nil {
		return nil, err
	}
	c.ArpBackground = true
	if v := strings.TrimSpace(r.Param("arp_bg")); v != "" {
		if !ocf.IsBool(v) {
			return nil, ocf.NotConfigured("arp_bg=%q is not a boolean", v)
		}
		c.ArpBackground = ocf.IsTrue(v)
	}
	switch v := r.Param("arp_sender"); v {
	case "", "send_arp", "iputils_arping", "libnet_arping", "ipoibarping":
	default:
		return nil, ocf.NotConfigured("arp_sender=%q is not one of send_arp, iputils_arping, libnet_arping, ipoibarping", v)
	}
	for _, opt := range strings.Fields(r.Param("send_arp_opts")) {
		if opt == "-A" {
			c.ArpReply = true
		}
	}

	c.FlushRoutes = r.Bool("flush_routes")
	c.RunArping = r.Bool("run_arping")
	c.NoDAD = r.Bool("nodad")
	c.NoPrefixRoute = r.Bool("noprefixroute")
	lft := strings.TrimSpace(r.Param("preferred_lft"))
	switch {
	case lft == "":
		return nil, ocf.NotConfigured("preferred_lft must not be empty (use forever or a number of seconds)")
	case lft == "forever" || lft == "infinity":
		c.PreferredLft = Forever
	default:
		n, err := strconv.ParseUint(strings.TrimSuffix(lft, "sec"), 10, 32)
		if err != nil || n >= Forever {
			return nil, ocf.NotConfigured("preferred_lft=%q is not forever or a number of seconds", lft)
		}
		c.PreferredLft = uint32(n)
	}
	c.Netns = strings.TrimSpace(r.Param("network_namespace"))
	if strings.ContainsRune(c.Netns, '/') || c.Netns == "." || c.Netns == ".." {
		return nil, ocf.NotConfigured("network_namespace=%q is not a namespace name", c.Netns)
	}
	if p := strings.TrimSpace(r.Param("proto")); p != "" {
		if n, ok := protoNames[p]; ok {
			c.Proto = n
		} else if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 255 {
			c.Proto = n
		} else {
			return nil, ocf.NotConfigured("proto=%q is not a route protocol name or number", p)
		}
	}
	c.CheckLink = ocf.IsTrue(r.Param("check_link_status"))

	n, err := r.IntIn("lvs_ipv6_addrlabel_value", 0, math.MaxUint32)
	if err != nil {
		return nil, err
	}
	c.AddrLabel, c.AddrLabelValue = c.V6 && r.Bool("lvs_ipv6_addrlabel"), uint32(n)
	c.Unsupported = unsupported(r, c)
	return c, nil
}

// CheckLabel verifies that nic:iflabel fits the kernel's 15 characters.
func (c *Config) CheckLabel(nic string) error {
	if l := c.Label(nic); len(l) > 15 {
		return ocf.NotConfigured("interface label %s exceeds the maximum of 15 characters", l)
	}
	return nil
}

func unsupported(r *ocf.Request, c *Config) string {
	switch {
	case r.Meta.CloneMax > 1 && !r.Bool("unique_clone_address"):
		return "cloned IPaddr2 (cluster IP) is not supported by ocf:paceline:IPaddr2"
	case r.Bool("unique_clone_address"):
		return "unique_clone_address is not supported by ocf:paceline:IPaddr2"
	case r.Bool("lvs_support"):
		return "lvs_support is not supported by ocf:paceline:IPaddr2"
	}
	return ""
}

// parsePrefixLen accepts a prefix length, or for IPv4 a dotted-quad
// netmask with contiguous ones.
func parsePrefixLen(s string, v6 bool) (int, error) {
	max := 32
	if v6 {
		max = 128
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > max {
			return 0, ocf.NotConfigured("cidr_netmask=%s is outside 1..%d", s, max)
		}
		return n, nil
	}
	if !v6 {
		if m, err := netip.ParseAddr(s); err == nil && m.Is4() {
			b := m.As4()
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			ones := 0
			for v&(1<<31) != 0 {
				ones++
				v <<= 1
			}
			if v == 0 && ones > 0 {
				return ones, nil
			}
		}
	}
	return 0, ocf.NotConfigured("cidr_netmask=%q is not a valid prefix length", s)
}

// Describe returns "ip/bits on nic" for log lines.
func describe(ip netip.Addr, bits int, nic string) string {
	return fmt.Sprintf("%s/%d on %s", ip, bits, nic)
}
