package filesystem

import "github.com/paceline-ha/paceline/pkg/ocf"

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	return []ocf.Example{{
		Title: "A shared disk and its address, as one group",
		Text: `The group starts the filesystem before the address and stops them in
		the reverse order, on one node at a time.`,
		PCS: `pcs resource create fs ocf:paceline:Filesystem device=/dev/disk/by-label/data \
    directory=/srv/data fstype=ext4 op monitor interval=20s timeout=40s
pcs resource create vip ocf:paceline:IPaddr2 ip=192.0.2.100 cidr_netmask=24
pcs resource group add svc fs vip`,
		CRM: `crm configure primitive fs ocf:paceline:Filesystem \
    params device=/dev/disk/by-label/data directory=/srv/data fstype=ext4 \
    op monitor interval=20s timeout=40s
crm configure primitive vip ocf:paceline:IPaddr2 params ip=192.0.2.100 cidr_netmask=24
crm configure group svc fs vip`,
	}, {
		Title: "On the promoted DRBD node",
		Text: `Mount the DRBD device only where DRBD is promoted, and only after the
		promotion (see ocf_paceline_drbd(7)).`,
		PCS: `pcs resource create fs ocf:paceline:Filesystem device=/dev/drbd0 \
    directory=/srv/nfs fstype=ext4 op monitor interval=20s timeout=40s
pcs constraint colocation add fs with Promoted drbd_r0-clone score=INFINITY
pcs constraint order promote drbd_r0-clone then start fs`,
		CRM: `crm configure primitive fs ocf:paceline:Filesystem \
    params device=/dev/drbd0 directory=/srv/nfs fstype=ext4 \
    op monitor interval=20s timeout=40s
crm configure colocation fs-with-drbd inf: fs drbd_r0-clone:Promoted
crm configure order fs-after-drbd Mandatory: drbd_r0-clone:promote fs:start`,
	}, {
		Title: "Monitor that reads the disk",
		Text: `Depth 10 reads the device, depth 20 writes and reads a status file on
		the filesystem; both give up with a reason when the I/O hangs.`,
		PCS: `pcs resource op add fs monitor interval=60s timeout=40s OCF_CHECK_LEVEL=20`,
		CRM: `crm configure primitive fs ocf:paceline:Filesystem \
    params device=/dev/disk/by-label/data directory=/srv/data fstype=ext4 \
    op monitor interval=20s timeout=40s \
    op monitor interval=60s timeout=40s OCF_CHECK_LEVEL=20`,
	}}
}
