#!/usr/bin/env bash
# make demo: a floating IP moving between two "nodes" on this machine.
#
# Two network namespaces, node1 and node2, share a "switch" namespace with
# a client in it. ocf:paceline:IPaddr2 brings 192.0.2.100 up on node1, the
# client learns it from the gratuitous ARP, then the address fails over to
# node2 and the client's neighbour table follows it. Every step is a real
# OCF action run the way pacemaker-execd runs it (paceline run).
set -euo pipefail
bin=${1:-build/paceline}
[ -x "$bin" ] || { echo "demo: build the binary first (make build)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }

tag="pldemo$$"
sw="$tag-sw" n1="$tag-n1" n2="$tag-n2"
vip=192.0.2.100
work=$(mktemp -d /tmp/pldemo.XXXXXX)
# The agents' per-node state (HA_RSCTMP) stays in the demo's directory.
export HA_RSCTMP="$work/rsctmp"
loop=""
holder=""
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null || true
	mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
	[ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
	rm -rf "$work"
	for ns in "$n1" "$n2" "$sw"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "three namespaces: a switch with a client (192.0.2.1), node1 (.11), node2 (.12)"
ip netns add "$sw"; ip netns add "$n1"; ip netns add "$n2"
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
ip -n "$sw" addr add 192.0.2.1/24 dev br0
i=0
for ns in "$n1" "$n2"; do
	i=$((i + 1))
	ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns"
	ip -n "$sw" link set "p$i" master br0 up
	ip -n "$ns" addr add "192.0.2.1$i/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
done
# The client learns addresses from gratuitous ARP (as routers are often set
# up to) and takes every announcement at once.
ip netns exec "$sw" sysctl -qw net.ipv4.conf.br0.arp_accept=1
ip -n "$sw" ntable change name arp_cache dev br0 locktime 0
sleep 0.5
mac1=$(ip -n "$n1" -br link show eth0 | awk '{print $3}')
mac2=$(ip -n "$n2" -br link show eth0 | awk '{print $3}')
echo "node1 eth0 $mac1, node2 eth0 $mac2"

agent() { local ns=$1; shift; ip netns exec "$ns" "$bin" run "$@"; }

step "the metadata Pacemaker reads (first lines)"
"$bin" meta-data IPaddr2 | head -n 6

step "probe on both nodes: not running anywhere"
agent "$n1" --probe IPaddr2 monitor ip=$vip || true
agent "$n2" --probe IPaddr2 monitor ip=$vip || true

step "start on node1 (interface and prefix found from the routes)"
agent "$n1" -v IPaddr2 start ip=$vip
ip -n "$n1" -br addr show dev eth0
agent "$n1" --interval 10s IPaddr2 monitor ip=$vip
sleep 1
echo "client's neighbour entry:"; ip -n "$sw" neigh show $vip

step "fail over: stop on node1, start on node2"
agent "$n1" -v IPaddr2 stop ip=$vip
agent "$n2" -v IPaddr2 start ip=$vip
sleep 1
echo "client's neighbour entry:"; ip -n "$sw" neigh show $vip
if ip -n "$sw" neigh show $vip | grep -q "$mac2"; then
	echo "=> the client now reaches $vip at node2 ($mac2)"
else
	echo "=> unexpected: the client does not point at node2" >&2
	exit 1
fi

step "a duplicate: node1 with run_arping while node2 holds the address"
agent "$n1" IPaddr2 start ip=$vip run_arping=true || true

step "stop on node2"
agent "$n2" IPaddr2 stop ip=$vip
agent "$n2" --interval 10s IPaddr2 monitor ip=$vip || true

step "the data behind the address: ext4 on a loop device, mounted by ocf:paceline:Filesystem"
truncate -s 64M "$work/disk.img"
mkfs.ext4 -q -L demodata "$work/disk.img"
loop=$(losetup -f --show "$work/disk.img")
fs="device=LABEL=demodata directory=$work/mnt fstype=ext4"
"$bin" run -v Filesystem start $fs
echo "hello from the active node" >"$work/mnt/greeting"
"$bin" run --depth 20 --interval 20s Filesystem monitor $fs

step "an application still using the mount when the cluster stops it"
(cd "$work/mnt" && exec sleep 600) &
holder=$!
sleep 0.2
"$bin" run -v Filesystem stop $fs
holder=""
"$bin" run --interval 20s Filesystem monitor $fs || true

step "mounted again (as the next node would): the data is there"
"$bin" run Filesystem start $fs
cat "$work/mnt/greeting"
"$bin" run Filesystem stop $fs
echo; echo "demo finished"
