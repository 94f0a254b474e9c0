#!/bin/sh
# /init of a DRBD guest (busybox sh): the modules, this machine's root
# (or PairSpec.Root) read-only over virtio-9p under an overlay with a
# tmpfs upper layer, name and address from the kernel command line
# (pl.name=, pl.ip=, pl.lan=), the harness's DRBD configuration, then
# the control agent (agent.sh) as PID 1 of the new root.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod /mod/$m.ko || echo "pl-init: insmod $m failed"; done < /mod/order
# dlm_controld opens DLM's devices as /dev/misc/NAME, links udev makes.
mkdir -p /dev/misc
for d in dlm-control dlm-monitor dlm_plock; do [ -e /dev/$d ] && ln -sf ../$d /dev/misc/$d; done
for a in $(cat /proc/cmdline); do
	case $a in pl.name=*) name=${a#*=} ;; pl.ip=*) ip=${a#*=} ;; pl.lan=*) lan=${a#*=} ;; esac
done
mkdir -p /host /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro hostroot /host || echo "pl-init: 9p mount failed"
mount -t tmpfs -o size=64m,mode=755 tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work overlay /newroot
for m in proc sys dev; do mount --move /$m /newroot/$m; done
ln -sf /proc/self/fd /newroot/dev/fd
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mount -t tmpfs -o mode=755 tmpfs /newroot/run
mkdir -p /newroot/run/lock
hostname "$name"
echo "$name" > /newroot/etc/hostname
# The service address (drbdlab.VIP) has a name, as a service's address
# has in DNS: sm-notify refuses to send NFSv3 reboot notifications from
# an address without one.
printf '127.0.0.1 localhost\n192.0.2.11 guest-a\n192.0.2.12 guest-b\n198.51.100.100 pl-service\n' > /newroot/etc/hosts
# No name server is reachable from the guests: names come from
# /etc/hosts only, so that a lookup fails at once as "no such name" (as
# on a node without DNS) instead of "temporary failure".
{ grep -v '^hosts:' /newroot/etc/nsswitch.conf 2>/dev/null; echo 'hosts: files'; } > /rw/nsswitch.conf
mv /rw/nsswitch.conf /newroot/etc/nsswitch.conf
ip link set lo up
ip link set eth0 up
ip addr add "$ip" dev eth0
if [ -n "$lan" ]; then ip link set eth1 up; ip addr add "$lan" dev eth1; fi
rm -rf /newroot/etc/drbd.d
mkdir -p /newroot/etc/drbd.d
printf 'include "drbd.d/global_common.conf";\ninclude "drbd.d/*.res";\n' > /newroot/etc/drbd.conf
printf 'global {\n\tusage-count no;\n}\ncommon {\n}\n' > /newroot/etc/drbd.d/global_common.conf
cp /agent /newroot/run/pl-agent.sh
echo "pl-init: $name $ip switching root at $(cut -d' ' -f1 /proc/uptime)"
exec switch_root /newroot /bin/bash /run/pl-agent.sh
