#!/usr/bin/env bash
# Builds the Debian 13 (trixie) userspace the Pacemaker 3 tiers run in,
# and prints its path. The root is cached under
# ${PACELINE_TEST_CACHE:-/var/cache/paceline-tests}/trixie-<key>, where
# the key is a hash of this script (the package list is in it): a changed
# list builds a new root, and older roots are removed. Concurrent callers
# wait on a lock and build it once. Needs root and Debian's mirror.
#
# debootstrap --variant=minbase, then apt-get inside the root: installing
# pacemaker, pcs or fence-agents through debootstrap's own --include fails
# on a virtual dependency (python3-cffi-backend).
set -euo pipefail

packages=(
	pacemaker pacemaker-cli-utils corosync # the cluster stack: Pacemaker 3.0, Corosync 3.1
	pcs crmsh                              # pcs 0.12 and crmsh 5.0, as users configure it
	resource-agents                        # the stock agents 4.16, ocf-tester, their schema
	fence-agents-ipmilan ipmitool          # the stock fence_ipmilan 4.16
	libvirt-daemon-system libvirt-clients  # libvirtd and virsh on every node
	qemu-system-x86                        # the nodes' TCG guests
	drbd-utils                             # drbdadm, drbdsetup, crm-fence-peer.sh
	iproute2 iputils-arping procps psmisc kmod util-linux mount
	e2fsprogs xfsprogs                     # the filesystems of the tests
	libxml2-utils                          # xmllint: metadata against 4.16's schema
	busybox                                # the DRBD guests' early userspace
	nfs-kernel-server                      # exportfs: paceline's and the stock exportfs 4.16
)

mirror=${PACELINE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${PACELINE_TEST_CACHE:-/var/cache/paceline-tests}
key=$(sha256sum "$0" | cut -c1-12)
root=$cache/trixie-$key

if [ -f "$root/.complete" ]; then
	echo "$root"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "trixie-root: needs root to build $root" >&2
	exit 1
fi
for p in debootstrap chroot unshare flock; do
	command -v "$p" >/dev/null || { echo "trixie-root: $p missing (tests/install-deps.sh)" >&2; exit 1; }
done

mkdir -p "$cache"
exec 9>"$cache/trixie.lock"
flock 9
if [ -f "$root/.complete" ]; then # built by another caller meanwhile
	echo "$root"
	exit 0
fi

start=$(date +%s)
tmp=$cache/.trixie-build
rm -rf "$tmp" "$root"
mkdir -p "$tmp"
log=$cache/trixie-build.log
: >"$log"
echo "trixie-root: building $root (debootstrap, then apt-get; log in $log)" >&2
if ! debootstrap --variant=minbase trixie "$tmp" "$mirror" >>"$log" 2>&1; then
	tail -20 "$log" >&2
	exit 1
fi
# No daemon starts while packages are installed.
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"
# /proc, /dev and /sys for the maintainer scripts, in a mount namespace
# of their own: they are gone when it ends, whatever happens.
if ! unshare -m --propagation private sh -c '
	set -e
	mount -t proc proc "$1/proc"
	mount --rbind /dev "$1/dev"
	mount -t sysfs sysfs "$1/sys"
	shift
	chroot "$0" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C \
		apt-get install -y -q --no-install-recommends "$@"
	chroot "$0" apt-get clean
' "$tmp" "$tmp" "${packages[@]}" >>"$log" 2>&1; then
	tail -20 "$log" >&2
	exit 1
fi
# The installed versions, for the record and the tiers' logs.
chroot "$tmp" dpkg-query -W -f '${Package} ${Version}\n' >"$tmp/.packages"
mv "$tmp" "$root"
touch "$root/.complete"
for old in "$cache"/trixie-*; do
	[ "$old" = "$root" ] || [ ! -d "$old" ] || rm -rf "$old"
done
echo "trixie-root: built in $(($(date +%s) - start)) s" >&2
echo "$root"
