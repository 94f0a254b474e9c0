package ipaddr2

import "github.com/paceline-ha/paceline/pkg/ocf"

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	return []ocf.Example{{
		Title: "A floating IPv4 address",
		Text: `The address moves with the service; nic may be left out when a route
		to the address's network exists on the node.`,
		PCS: `pcs resource create vip ocf:paceline:IPaddr2 ip=192.0.2.100 cidr_netmask=24 \
    nic=eth0 op monitor interval=10s timeout=20s`,
		CRM: `crm configure primitive vip ocf:paceline:IPaddr2 \
    params ip=192.0.2.100 cidr_netmask=24 nic=eth0 \
    op monitor interval=10s timeout=20s`,
	}, {
		Title: "An IPv6 address beside it, in the same group",
		PCS: `pcs resource create vip6 ocf:paceline:IPaddr2 ip=fd00::100 cidr_netmask=64 \
    nic=eth0 op monitor interval=10s timeout=20s
pcs resource group add web vip vip6`,
		CRM: `crm configure primitive vip6 ocf:paceline:IPaddr2 \
    params ip=fd00::100 cidr_netmask=64 nic=eth0 \
    op monitor interval=10s timeout=20s
crm configure group web vip vip6`,
	}}
}
