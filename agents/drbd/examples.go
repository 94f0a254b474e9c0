package drbd

import (
	"fmt"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	single := promotable("r0", 1)
	single.Title = "Active/passive: one promoted node"
	single.Text = `The DRBD resource r0 is defined in /etc/drbd.d/ on both nodes. Give the
		Promoted and Unpromoted monitors different intervals.`
	dual := promotable("vm1", 2)
	dual.Title = "Dual-primary, for live migration"
	dual.Text = `Both nodes promoted; the DRBD resource must allow it (allow-two-primaries
		yes in its net section), and the nodes need fencing.`
	return []ocf.Example{single, dual}
}

// promotable is the pcs and crm configuration of the DRBD resource res as
// a promotable clone of two instances, up to promotedMax of them promoted.
// The two pcs versions differ in how they take the clone's meta
// attributes; the tiers run both.
func promotable(res string, promotedMax int) ocf.Example {
	monitors := `    op monitor interval=29s role=Promoted op monitor interval=31s role=Unpromoted`
	meta := fmt.Sprintf("promoted-max=%d promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true", promotedMax)
	id := "drbd_" + res
	return ocf.Example{
		PCS: fmt.Sprintf(`# pcs 0.11 (Debian 12):
pcs resource create %[1]s ocf:paceline:drbd drbd_resource=%[2]s \
%[3]s \
    promotable %[4]s
# pcs 0.12 (Debian 13):
pcs resource create --future %[1]s ocf:paceline:drbd drbd_resource=%[2]s \
%[3]s \
    promotable meta %[4]s`, id, res, monitors, meta),
		CRM: fmt.Sprintf(`crm configure primitive %[1]s ocf:paceline:drbd params drbd_resource=%[2]s \
%[3]s
crm configure clone %[1]s-clone %[1]s meta promotable=true promoted-max=%[4]d \
    promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true`, id, res, monitors, promotedMax),
	}
}
