#!/usr/bin/env bash
# Installs the Debian packages the tests, the demo and the benchmarks need.
# Does nothing for packages already installed; needs root to install.
set -euo pipefail

packages=(
	iproute2          # ip: namespaces and veth pairs for the test hosts
	util-linux        # setpriv (non-root checks)
	procps
	strace            # counts the processes an action forks
	time              # GNU time: peak RSS in the benchmarks
	libxml2-utils     # xmllint: metadata validation, ocf-tester
	resource-agents   # ocf-tester and the stock agents (benchmark baseline)
	pacemaker-cli-utils # crm_attribute and friends
	kmod              # modprobe, which the stock agents insist on
	psmisc            # fuser, which the stock Filesystem insists on
	e2fsprogs         # mkfs.ext4, tune2fs: Filesystem tests on loop devices
	xfsprogs          # mkfs.xfs
	glusterfs-server  # glusterd: a real GlusterFS volume for Filesystem
	glusterfs-client  # mount -t glusterfs
	fuse3             # FUSE tools (the hanging filesystem of the tests)
	libvirt-daemon-system # libvirtd: the test libvirt hosts in namespaces
	libvirt-clients   # virsh
	qemu-system-x86   # qemu: the tiny TCG guests
	busybox-static    # the guests' userland (initramfs)
	gcc               # cgo, for paceline-libvirt (libvirt itself is dlopened)
	libc6-dev         # the C headers cgo compiles against
	openipmi          # ipmi_sim: the simulated BMCs of the fence agent tests
	ipmitool          # IPMI client: drives and checks the simulated BMCs
	fence-agents      # the stock fence_ipmilan (baseline for the fence agent)
	pacemaker         # pacemaker-fenced: a stand-alone fencer; the test cluster's nodes
	corosync          # the test cluster's membership and quorum
	pcs               # the test cluster and the demo are configured with pcs, as users do
	rpm               # rpm -K, -qpl and --root: the checks of the rpm package
	man-db            # man: the packages' man pages render
	groff-base        # what man renders them with
	iputils-arping    # which node answers for the floating IP
	drbd-utils        # drbdadm, drbdsetup and the stock ocf:linbit:drbd (in the DRBD guests)
	crmsh             # crm: the docs' crm commands run through crmsh 4.4
	debootstrap       # the Debian 13 userspace of the Pacemaker 3 tiers (tests/trixie-root.sh)
	dlm-controld      # dlm_controld, which ocf:pacemaker:controld runs: DLM for the cluster filesystems
	ocfs2-tools       # mkfs.ocfs2 and mount.ocfs2 (the OCFS2 tests, in the DRBD guests)
	gfs2-utils        # mkfs.gfs2 (the GFS2 tests)
	nfs-kernel-server # exportfs, rpc.nfsd, rpc.mountd, rpc.statd, sm-notify: the NFS server and client of tests/nfs (in the DRBD guests)
	python3           # the NFS client's writer in TestNFSFailover and make demo-nfs (tests/drbdlab/nfswriter.py)
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; missing packages: ${missing[*]}" >&2
	echo "install-deps: the system tests will skip (and fail under CI)" >&2
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
