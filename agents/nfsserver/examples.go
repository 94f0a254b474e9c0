package nfsserver

import "github.com/paceline-ha/paceline/pkg/ocf"

// Examples are the worked configurations of the man page.
func Examples() []ocf.Example {
	return []ocf.Example{{
		Title: "The NFS server of the replicated filesystem",
		Text: `Its state lives on the replicated filesystem, beside the exports, so
		that clients keep their locks when the service moves; the server scope
		and the notifications name the service's address.`,
		PCS: `pcs resource create nfs_server ocf:paceline:nfsserver nfs_shared_infodir=/srv/nfs/nfsinfo \
    nfs_ip=192.0.2.101 nfs_server_scope=192.0.2.101 op monitor interval=10s timeout=20s`,
		CRM: `crm configure primitive nfs_server ocf:paceline:nfsserver \
    params nfs_shared_infodir=/srv/nfs/nfsinfo nfs_ip=192.0.2.101 nfs_server_scope=192.0.2.101 \
    op monitor interval=10s timeout=20s`,
	}}
}
