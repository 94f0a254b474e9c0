#!/usr/bin/env bash
# make demo: a real 3-node Pacemaker cluster on this machine, running
# paceline's agents, fenced over IPMI.
#
# Each node is a set of namespaces with its own corosync, pacemaker and
# libvirtd; each has a simulated BMC (ipmi_sim) whose power-off kills the
# node and whose power-on boots it again. The demo configures, with pcs,
# a fence device per node (fence_paceline_ipmilan), a group with a
# filesystem on a shared disk and a floating IP (ocf:paceline:Filesystem,
# ocf:paceline:IPaddr2), and a VM (ocf:paceline:VirtualDomain). It live
# migrates the VM, crashes the node running the group and shows the
# fencing and the failover, then leaves the cluster running:
#   make demo-shell NODE=2    a shell on node2 (crm_mon, pcs, virsh ...)
#   make demo-down            stop it and remove everything it made
set -euo pipefail
export LC_ALL=C
plc=${1:-build/plcluster}
dir=${PLCLUSTER_DIR:-/var/lib/paceline-demo}
export PLCLUSTER_DIR=$dir
[ -x "$plc" ] || { echo "demo: build plcluster first (make demo does)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (namespaces, loop devices)" >&2; exit 1; }

T0=$(date +%s.%N)
step() { printf '\n\033[1m[%6.1f s] %s\033[0m\n' "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { print a - b }')" "$*"; }
say() { printf '  %s\n' "$*"; }
on() { local n=$1; shift; printf '  node%s$ %s\n' "$n" "$*"; "$plc" exec "$n" "$@" 2>&1 | sed 's/^/    /'; }

trap 'echo "demo: a step failed; the cluster is left as it is: make demo-shell NODE=1 to look, make demo-down to remove it" >&2' ERR
if [ -e "$dir/cluster.json" ]; then
	step "a demo cluster from an earlier run is there: taking it down"
	"$plc" down
fi

step "bringing up 3 nodes (corosync, pacemaker, libvirtd each), a BMC per node and a shared disk"
"$plc" up -nodes 3 -tag pld -libvirt -bmc -shared 64 -token 1000 -boot-delay 10s
"$plc" wait 120
say "node1 192.0.2.11, node2 192.0.2.12, node3 192.0.2.13; their BMCs at 192.0.2.201-203"
say "state and logs: $dir (node<N>/root/var/log/pacemaker/pacemaker.log)"

step "configuring the cluster with pcs, as the guides do (the guest image is built on first use)"
"$plc" configure

step "the cluster"
on 1 crm_mon -1

svc=$("$plc" locate vip)
vm=$("$plc" locate vm-live)
step "live migration of vm-live (now on node$vm, counting on its serial console)"
# To where the group runs, so that the crash below takes both; when it is
# there already, to the next node.
to=$svc
[ "$to" = "$vm" ] && to=$((vm % 3 + 1))
for _ in $(seq 60); do
	read -r count boots < <("$plc" counter vm-live)
	[ "$count" -ge 2 ] && break
	sleep 1
done
say "guest counter before: $count"
on "$svc" pcs resource move vm-live "node$to"
"$plc" exec "$svc" crm_resource --wait --timeout=120s
on "$svc" crm_resource --locate --resource vm-live
sleep 3
read -r after boots < <("$plc" counter vm-live)
say "guest counter after: $after, booted $boots time(s): it kept running through the move"
"$plc" exec "$svc" pcs resource clear vm-live >/dev/null

step "crashing node$svc, which runs the group (fs, vip): kill -9 of the whole node"
on "$svc" sh -c "echo written on \$(hostname) at \$(date +%T) > $dir/shared/greeting && sync"
crash=$(date +%s.%N)
"$plc" kill "$svc"
say "waiting for the survivors to fence node$svc through its BMC and take the group over"
obs=$((svc % 3 + 1))
for _ in $(seq 600); do
	new=$("$plc" locate vip 2>/dev/null || true)
	[ -n "$new" ] && [ "$new" != "$svc" ] && break
	sleep 0.1
done
[ -n "$new" ] && [ "$new" != "$svc" ] || { echo "demo: the group did not move off node$svc within a minute" >&2; exit 1; }
"$plc" exec "$obs" crm_resource --wait --timeout=120s || true
step "what happened, from the nodes' logs and the BMCs (seconds after the crash)"
"$plc" timeline "$crash"
step "after the failover"
say "the floating IP 192.0.2.100 answers from node$("$plc" vip)"
on "$new" cat "$dir/shared/greeting"
on "$obs" stonith_admin --history "node$svc"

step "node$svc was powered on again by its BMC; waiting for it to rejoin"
"$plc" wait 120
on "$obs" crm_mon -1

step "done: the cluster keeps running"
say "make demo-shell NODE=1   a shell on node1 (crm_mon, pcs status, virsh -c qemu:///system list)"
say "make demo-down           stop the cluster and remove everything it made"
