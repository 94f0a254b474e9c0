package virtualdomain

import "github.com/paceline-ha/paceline/pkg/ocf"

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	return []ocf.Example{{
		Title: "A VM on shared storage that live-migrates",
		Text: `The domain XML and the disk images are on storage every node sees.
		allow-migrate makes Pacemaker move the VM with migrate_to and
		migrate_from instead of stopping and starting it.`,
		PCS: `pcs resource create vm1 ocf:paceline:VirtualDomain config=/shared/vm1.xml \
    hypervisor=qemu:///system migration_transport=ssh \
    meta allow-migrate=true op monitor interval=10s timeout=30s`,
		CRM: `crm configure primitive vm1 ocf:paceline:VirtualDomain \
    params config=/shared/vm1.xml hypervisor="qemu:///system" migration_transport=ssh \
    meta allow-migrate=true \
    op monitor interval=10s timeout=30s`,
	}, {
		Title: "A VM on dual-primary DRBD",
		Text: `The VM may run, and migrate, only where DRBD is promoted; DRBD is
		promoted on both nodes (promoted-max=2) so that both sides can open
		the disk during a live migration (see ocf_paceline_drbd(7)).`,
		PCS: `pcs resource create vm1 ocf:paceline:VirtualDomain config=/etc/cluster-vms/vm1.xml \
    migration_transport=ssh meta allow-migrate=true op monitor interval=10s timeout=30s
pcs constraint colocation add vm1 with Promoted drbd_vm1-clone score=INFINITY
pcs constraint order promote drbd_vm1-clone then start vm1`,
		CRM: `crm configure primitive vm1 ocf:paceline:VirtualDomain \
    params config=/etc/cluster-vms/vm1.xml migration_transport=ssh \
    meta allow-migrate=true op monitor interval=10s timeout=30s
crm configure colocation vm1-with-drbd inf: vm1 drbd_vm1-clone:Promoted
crm configure order vm1-after-drbd Mandatory: drbd_vm1-clone:promote vm1:start`,
	}}
}
