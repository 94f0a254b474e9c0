package drbd

import "github.com/paceline-ha/paceline/pkg/ocf"

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	return []ocf.Example{{
		Title: "Active/passive: one promoted node",
		Text: `The DRBD resource r0 is defined in /etc/drbd.d/ on both nodes. Give the
		Promoted and Unpromoted monitors different intervals.`,
		PCS: `# pcs 0.11 (Debian 12):
pcs resource create drbd_r0 ocf:paceline:drbd drbd_resource=r0 \
    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted \
    promotable promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true
# pcs 0.12 (Debian 13):
pcs resource create --future drbd_r0 ocf:paceline:drbd drbd_resource=r0 \
    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted \
    promotable meta promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true`,
		CRM: `crm configure primitive drbd_r0 ocf:paceline:drbd params drbd_resource=r0 \
    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted
crm configure clone drbd_r0-clone drbd_r0 meta promotable=true promoted-max=1 \
    promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true`,
	}, {
		Title: "Dual-primary, for live migration",
		Text: `Both nodes promoted; the DRBD resource must allow it (allow-two-primaries
		yes in its net section), and the nodes need fencing.`,
		PCS: `# pcs 0.11 (Debian 12):
pcs resource create drbd_vm1 ocf:paceline:drbd drbd_resource=vm1 \
    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted \
    promotable promoted-max=2 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true
# pcs 0.12 (Debian 13):
pcs resource create --future drbd_vm1 ocf:paceline:drbd drbd_resource=vm1 \
    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted \
    promotable meta promoted-max=2 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true`,
		CRM: `crm configure primitive drbd_vm1 ocf:paceline:drbd params drbd_resource=vm1 \
    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted
crm configure clone drbd_vm1-clone drbd_vm1 meta promotable=true promoted-max=2 \
    promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true`,
	}}
}
