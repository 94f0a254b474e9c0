#!/bin/sh
# Chassis control of a paceline test BMC, written by tests/ipmi.
# ipmi_sim runs "<this> 0x20 get power" and reads "power:0" or "power:1",
# and "<this> 0x20 set power 0|1" to switch it (set reset 1 for a hard
# reset, which changes nothing here). Every call is logged.
state={{.State}}
log={{.Log}}
echo "$(date +%s.%N) $*" >>"$log"
op=$2
shift 2
case $op in
get)
	for what in "$@"; do
		case $what in
		power) echo "power:$(cat "$state")" ;;
		boot) echo "boot:default" ;;
		*) echo "unsupported: get $what" >>"$log"; exit 1 ;;
		esac
	done ;;
set)
	while [ $# -ge 2 ]; do
		if [ "$1" = power ]; then
			echo "$2" >"$state.new" && mv -f "$state.new" "$state" || exit 1
			{{.Hook}}
		fi
		shift 2
	done ;;
*)
	echo "unsupported: $op" >>"$log"
	exit 1 ;;
esac
exit 0
