package ipaddr2

import (
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the agent's own version, shown in its metadata.
const Version = "1.0"

// Metadata describes ocf:paceline:IPaddr2. Parameter names and defaults are
// those of ocf:heartbeat:IPaddr2 (resource-agents 4.12), plus the names
// added upstream since, so that existing configurations load unchanged.
func Metadata() ocf.Metadata {
	s, i, b := ocf.TypeString, ocf.TypeInteger, ocf.TypeBoolean
	ip := ocf.Param("ip", s, "", "IPv4 or IPv6 address",
		`The address to manage, for example 192.0.2.10 or fd00::10. An address
		containing a colon is treated as IPv6.`).Key()
	return ocf.Metadata{
		Name:      "IPaddr2",
		Version:   Version,
		ShortDesc: "Floating IPv4/IPv6 address (native, netlink)",
		LongDesc: `Adds an IPv4 or IPv6 address to a network interface on start and removes
		it on stop, announcing it to the neighbours with gratuitous ARP (IPv4) or
		unsolicited neighbour advertisements (IPv6). A drop-in replacement for
		ocf:heartbeat:IPaddr2 with the same parameters.

		Differences from ocf:heartbeat:IPaddr2: every address and link operation
		goes through netlink, and monitor, meta-data and validate-all start no
		other program. Announcements are sent from a packet socket inside the
		agent. When arp_bg is empty, the first announcement is sent before start
		returns and the rest in the background for IPv6 too, so an IPv6 start
		takes about as long as duplicate address detection. When several routes
		match the address, the longest prefix wins instead of failing. When
		broadcast is empty and no address on the interface has one, the
		broadcast address is computed from the prefix. run_arping waits about one
		second instead of two. Cloned addresses (CLUSTERIP, unique_clone_address)
		and the LVS options are not implemented: enabling them is refused with a
		configuration error instead of being ignored.`,
		Parameters: []ocf.Parameter{
			ip,
			ocf.Param("nic", s, "", "Network interface",
				`The interface to add the address to. When empty, the interface is
				taken from the routing table: the route with the longest prefix
				that contains the address (for IPv4, only routes of link scope).
				The form nic:label is accepted and sets iflabel.`),
			ocf.Param("cidr_netmask", s, "", "Prefix length",
				`The prefix length (netmask in CIDR notation, e.g. 24). When empty,
				it is taken from the matching route. A dotted-quad netmask is
				converted, with a warning.`),
			ocf.Param("broadcast", s, "", "IPv4 broadcast address",
				`The broadcast address for IPv4, or + (computed from the prefix) or -
				(none). When empty, the broadcast of an existing address in the
				same subnet on the interface is reused, else it is computed.`),
			ocf.Param("iflabel", s, "", "Interface label",
				`A label added to the IPv4 address as nic:iflabel (shown by ifconfig
				and "ip addr"). nic:iflabel must not exceed 15 characters. IPv6
				addresses carry no label.`),
			ocf.Param("lvs_support", b, "false", "LVS direct routing support (not implemented)",
				`Removes a conflicting loopback address on start and restores it on
				stop, for LVS direct routing. Not implemented: true is refused.`),
			ocf.Param("lvs_ipv6_addrlabel", b, "true", "IPv6 address label",
				`For an IPv6 address: start adds an address label (ip addrlabel add
				prefix ADDRESS/128 label lvs_ipv6_addrlabel_value) and stop removes
				it, so that the kernel does not choose the floating address as the
				source of the node's own traffic (RFC 6724 source address
				selection), which LVS direct routing needs and most floating
				addresses want. The default is true, as in resource-agents 4.16 and
				newer (false in 4.12). A label that cannot be added is a warning,
				not a failed start. No effect on IPv4 addresses.`),
			ocf.Param("lvs_ipv6_addrlabel_value", i, "99", "IPv6 address label value",
				`The label value used with lvs_ipv6_addrlabel: one that no other
				entry of the policy table ("ip addrlabel list") uses.`),
			ocf.Param("mac", s, "", "Cluster IP MAC address (clones only)",
				`Multicast MAC of a cloned cluster IP. Cloned addresses are not
				implemented; the value is accepted and has no effect.`),
			ocf.Param("clusterip_hash", s, "sourceip-sourceport", "Cluster IP hash (clones only)",
				`Hash mode of a cloned cluster IP. Cloned addresses are not
				implemented; the value is accepted and has no effect.`),
			ocf.Param("unique_clone_address", b, "false", "Distinct address per clone (not implemented)",
				`Adds the clone instance number to the address. Not implemented:
				true is refused.`),
			ocf.Param("arp_interval", i, "200", "Milliseconds between announcements",
				`Time in milliseconds between two gratuitous ARP packets (IPv4) or
				unsolicited neighbour advertisements (IPv6). Must be positive.`),
			ocf.Param("arp_count", i, "5", "Announcements sent on start",
				`How many gratuitous ARP packets or unsolicited neighbour
				advertisements start sends. 0 sends none.`),
			ocf.Param("arp_count_refresh", i, "0", "ARP packets sent on each monitor",
				`How many gratuitous ARP packets every successful IPv4 monitor sends,
				to keep neighbours' caches fresh. 0 sends none.`),
			ocf.Param("arp_bg", s, "", "Send announcements in the background",
				`true: start returns after the first announcement and a background
				process sends the rest. false: start sends them all before it
				returns. Empty means true, for IPv4 and IPv6 alike.`),
			ocf.Param("arp_sender", s, "", "ARP sender",
				`Accepted for compatibility: send_arp, iputils_arping,
				libnet_arping or ipoibarping. Announcements are always sent by the
				agent itself; no external program is run.`),
			ocf.Param("send_arp_opts", s, "", "Options of the ARP sender",
				`Accepted for compatibility. The option -A (send ARP replies instead
				of requests) is honoured; other options have no effect.`),
			ocf.Param("flush_routes", b, "false", "Flush the route cache on stop",
				`Flush the routing cache after the address is removed.`),
			ocf.Param("run_arping", s, "false", "Detect a duplicate IPv4 address on start",
				`Before adding an IPv4 address, send ARP probes for it and refuse to
				start when another host answers; the exit reason names that host's
				MAC address.`),
			ocf.Param("nodad", s, "false", "Skip IPv6 duplicate address detection",
				`Add an IPv6 address without duplicate address detection.`),
			ocf.Param("noprefixroute", s, "false", "Do not add a prefix route",
				`Add the address without the route for its prefix.`),
			ocf.Param("preferred_lft", s, "forever", "IPv6 preferred lifetime",
				`Preferred lifetime of an IPv6 address in seconds, or forever. 0
				marks the address deprecated so that it is not used as a source
				address.`),
			ocf.Param("network_namespace", s, "", "Network namespace",
				`Manage the address inside this named network namespace
				(/run/netns/NAME), as "ip netns exec NAME" would.`),
			ocf.Param("proto", s, "", "Route protocol filter",
				`When the interface or prefix is taken from the routing table,
				consider only routes of this protocol (e.g. kernel, static, or a
				number).`),
			ocf.Param("check_link_status", s, "true", "Check the link state",
				`When true, monitor reports the address as not running while its
				interface has no carrier, and start refuses a link without carrier
				(exit code 5).`),
			ocf.Param("clusterip_firewall", s, "", "Cluster IP firewall (clones only)",
				`Accepted for compatibility with newer configurations; cloned
				addresses are not implemented.`),
			ocf.Param("clusterip_hash_seed", s, "", "Cluster IP hash seed (clones only)",
				`Accepted for compatibility; no effect.`),
			ocf.Param("clusterip_table", s, "mangle", "Cluster IP table (clones only)",
				`Accepted for compatibility; no effect.`),
			ocf.Param("clusterip_chain", s, "PREROUTING", "Cluster IP chain (clones only)",
				`Accepted for compatibility; no effect.`),
			ocf.Param("clusterip_mac_mangle", b, "false", "Cluster IP MAC mangling (clones only)",
				`Accepted for compatibility; no effect.`),
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 20 * time.Second},
			{Name: "stop", Timeout: 20 * time.Second},
			{Name: "status", Timeout: 20 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
	}
}
