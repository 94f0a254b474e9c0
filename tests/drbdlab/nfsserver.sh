# Starts the kernel's NFS server in a DRBD guest the way a node without
# systemd does (run through the guest's agent): the nfsd and rpc_pipefs
# filesystems, rpcbind, statd, mountd, then 4 nfsd threads. The export
# table starts empty; the tests export with ocf:paceline:exportfs.
set -e
mkdir -p /proc/fs/nfsd /run/rpc_pipefs /run/rpcbind /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery
grep -q ' /proc/fs/nfsd ' /proc/mounts || mount -t nfsd nfsd /proc/fs/nfsd
grep -q ' /run/rpc_pipefs ' /proc/mounts || mount -t rpc_pipefs sunrpc /run/rpc_pipefs
: > /var/lib/nfs/etab
: > /var/lib/nfs/rmtab
chown statd /var/lib/nfs/sm /var/lib/nfs/sm.bak 2>/dev/null || true
rpcbind -w
rpc.statd --no-notify
rpc.mountd
rpc.nfsd 4
for i in $(seq 50); do [ "$(cat /proc/fs/nfsd/threads)" -gt 0 ] && break; sleep 0.1; done
echo "nfsd threads: $(cat /proc/fs/nfsd/threads); versions: $(cat /proc/fs/nfsd/versions)"
