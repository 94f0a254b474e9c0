package exportfs

import "github.com/paceline-ha/paceline/pkg/ocf"

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	return []ocf.Example{{
		Title: "An export of the replicated filesystem",
		Text: `The export follows the filesystem it exports, in the group of the
		NFS service; the fixed fsid lets clients keep their file handles
		across a failover.`,
		PCS: `pcs resource create nfs_export ocf:paceline:exportfs directory=/srv/nfs/exports \
    clientspec=192.0.2.0/24 options=rw,sync,no_root_squash fsid=1 \
    op monitor interval=10s timeout=20s`,
		CRM: `crm configure primitive nfs_export ocf:paceline:exportfs \
    params directory=/srv/nfs/exports clientspec=192.0.2.0/24 \
    options=rw,sync,no_root_squash fsid=1 \
    op monitor interval=10s timeout=20s`,
	}}
}
