#!/bin/sh
# /init of the tiny guest (guestimage.Tiny): it prints BOOTED-OK once,
# then a counter every second on its serial console, and powers off on an
# ACPI power-button event unless "noacpid" is on its kernel command line.
# acpid comes up about 5 s after start under TCG: an ACPI shutdown sent
# before BOOTED-OK is lost.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
if ! grep -qw noacpid /proc/cmdline; then
	while read -r m; do insmod "/mod/$m.ko"; done < /mod/order
	acpid -l /dev/null
fi
echo "BOOTED-OK uptime=$(cut -d' ' -f1 /proc/uptime)"
i=0
while :; do
	i=$((i+1))
	echo "COUNTER $i up=$(cut -d' ' -f1 /proc/uptime)"
	sleep 1
done
