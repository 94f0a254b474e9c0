# The PID 1 of a DRBD guest (bash): it serves the control channel of
# ctlConn (ctl.go) on the virtio-serial port named ctl0. Each command
# runs as a background job in a process group of its own (set -m), in a
# subshell that evals the script (an exec of a dynamically linked
# program costs 45-70 ms under TCG, a fork 4 ms), with a timer that kills
# the whole group, so a hanging command blocks nothing else. Answers are
# written while holding the one token of the FIFO on fd 8, so that they
# never interleave. Output is read back with read -d '' (NUL bytes are
# lost).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C LC_ALL=C TERM=dumb
cd /
a=/run/pl-agent
mkdir -p $a
mkfifo $a/sleep $a/lock
exec 9<> $a/sleep   # read -t on it: a sleep without a fork
exec 8<> $a/lock    # holds one byte: the token of the answer lock
printf x >&8
port=
while [ -z "$port" ]; do
	for n in /sys/class/virtio-ports/*/name; do
		read -r v < "$n" 2>/dev/null
		if [ "$v" = ctl0 ]; then d=${n%/name}; port=/dev/${d##*/}; fi
	done
	[ -n "$port" ] || read -t 0.1 -u 9 _
done
echo "pl-agent: serving $port at $(cut -d' ' -f1 /proc/uptime)"
answer() { # header line, then the body
	read -r -N 1 -u 8 _
	printf '%s\n%s' "$1" "$2" >&3
	printf x >&8
}
run() { # id timeout-ms script
	local id=$1 ms=$2 f=$a/$BASHPID out rc st=ok pid tpid secs t0
	printf -v secs '%d.%03d' $((ms / 1000)) $((ms % 1000))
	t0=${EPOCHREALTIME/[.,]/}
	set -m
	{ eval "$3"; } > $f.out 2>&1 < /dev/null 3>&- 8>&- 9>&- &
	pid=$!
	set +m
	{ read -t $secs -u 9 _; kill -TERM -- -$pid; read -t 2 -u 9 _; kill -KILL -- -$pid; } 2>/dev/null 3>&- 8>&- &
	tpid=$!
	wait $pid
	rc=$?
	kill $tpid 2>/dev/null
	if [ $rc = 143 -o $rc = 137 ] && [ $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) -ge $ms ]; then st=timeout; fi
	IFS= read -r -d '' out < $f.out
	: > $f.out
	answer "R $id $rc $st ${#out}" "$out"
}
while :; do
	if exec 3<> "$port"; then
		while read -r kind id x y <&3; do
			case $kind in
			C)
				IFS= read -r -N "$y" s <&3
				run "$id" "$x" "$s" &
				;;
			P) answer "P $id" "" ;;
			esac
		done
		exec 3>&-
	fi
	read -t 0.2 -u 9 _
done
