//go:build system

package ocft_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/tests/proc"
)

var nsSeq atomic.Int32

// newNetns creates a network namespace holding eth0 and eth1, the names
// the IPaddr2 configs use, each a veth whose peer is in a second
// namespace of ours: what the agents announce arrives there and goes no
// further. Nothing has an address yet: the configs' SETUP-AGENT adds the
// base address. Both are removed at cleanup. It returns the name of the
// first one.
func newNetns(t *testing.T) string {
	t.Helper()
	n := nsSeq.Add(1)
	ns := fmt.Sprintf("plocft%d-%d", os.Getpid(), n)
	peer := ns + "p"
	for _, name := range []string{ns, peer} {
		proc.Run(t, "ip", "netns", "add", name)
		t.Cleanup(func() { _, _ = proc.Output(context.Background(), "ip", "netns", "del", name) })
	}
	for _, c := range [][]string{
		{"link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", "p0", "netns", peer},
		{"link", "add", "eth1", "netns", ns, "type", "veth", "peer", "name", "p1", "netns", peer},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "eth1", "up"},
		{"-n", peer, "link", "set", "lo", "up"},
		{"-n", peer, "link", "set", "p0", "up"},
		{"-n", peer, "link", "set", "p1", "up"},
	} {
		proc.Run(t, "ip", c...)
	}
	return ns
}

// loopImage is the file behind a run's loop device, where the Filesystem
// config expects it: $OCFT_rundir/resource-agents/ocft-Filesystem-fs,
// which is the run's HA_RSCTMP. The case "start insert failure" detaches
// the device and attaches it again from that path.
const loopImage = "ocft-Filesystem-fs"

// newLoop attaches an empty 16 MiB file (the size the config asks
// loopbackeddev for; SETUP-AGENT formats it) to a free loop device and
// returns the device. At cleanup the device is detached if it still
// holds that file: the case that detaches it could, should it fail,
// leave the number to somebody else.
func newLoop(t *testing.T, img string) string {
	t.Helper()
	proc.Run(t, "truncate", "-s", "16M", img)
	dev := strings.TrimSpace(proc.Run(t, "losetup", "-f", "--show", img))
	t.Cleanup(func() {
		ok, err := loopHolds(dev, img)
		if err != nil {
			t.Errorf("loop device %s: %v", dev, err)
			return
		}
		if ok {
			if out, err := proc.Output(context.Background(), "losetup", "-d", dev); err != nil {
				t.Errorf("losetup -d %s: %v\n%s", dev, err, out)
			}
		}
	})
	return dev
}

// loopHolds reports whether the loop device dev is attached to the file
// img (same device and inode: the path the kernel shows depends on the
// mount namespace that attached it).
func loopHolds(dev, img string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(img, &st); err != nil {
		return false, err
	}
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	info, err := unix.IoctlLoopGetStatus64(fd)
	if errors.Is(err, unix.ENXIO) {
		return false, nil // detached
	}
	if err != nil {
		return false, err
	}
	return info.Inode == st.Ino && info.Device == st.Dev, nil
}

// scratch is a run's private state on this machine. Inside the run's
// mount namespace (see nsScript) ra is /var/lib/resource-agents, where
// ocft keeps its configs and generated cases, and rsctmp is
// /run/resource-agents, the agents' HA_RSCTMP.
type scratch struct {
	dir    string
	ra     string // dir/ra
	rsctmp string // dir/rsctmp
}

// inner is the path of ra's file rel as ocft sees it.
func (s scratch) inner(rel string) string {
	return filepath.Join("/var/lib/resource-agents", rel)
}

func newScratch(t *testing.T) scratch {
	t.Helper()
	dir := t.TempDir()
	s := scratch{dir: dir, ra: filepath.Join(dir, "ra"), rsctmp: filepath.Join(dir, "rsctmp")}
	for _, d := range []string{"ra/ocft/configs", "rsctmp", "ovl/upper", "ovl/work", "held"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// casesDir is where ocft leaves its generated scripts and .retest files.
func (s scratch) casesDir() string { return filepath.Join(s.ra, "ocft", "cases") }

// nsScript runs inside the run's own mount namespace (private
// propagation, so nothing mounted here is seen outside, and everything
// is gone when its last process exits), with the scratch dir and the
// config's name as $1 and $2. ocft writes its cases under
// /var/lib/resource-agents and shows a failed case's agent output from
// /tmp/.ocft_runlog; the agents keep state in /run/resource-agents. Each
// gets a private place:
//   - /var/lib becomes an overlay whose writes land in the scratch dir
//     (the mounts below it, a libvirt host's /var/lib/libvirt, are moved
//     onto it), and /var/lib/resource-agents a clean dir of the scratch;
//   - /run/resource-agents is the scratch's rsctmp (on a machine without
//     that dir, /run becomes an empty tmpfs first);
//   - /tmp is an empty tmpfs in which .ocft_runlog points at the file
//     ocft really writes, $HA_RSCTMP/.ocft_runlog (ocft 0.44 writes one
//     and shows the other).
const nsScript = `set -eu
scratch=$1 config=$2
i=0 prev=/nonexistent held=
for mp in $(awk '$5 ~ "^/var/lib/" { print $5 }' /proc/self/mountinfo | sort -u); do
	case $mp in "$prev"/*) continue ;; esac
	prev=$mp i=$((i + 1))
	mkdir "$scratch/held/$i"
	mount --rbind "$mp" "$scratch/held/$i"
	held="$held $i:$mp"
done
mount -t overlay ocft-varlib -o "lowerdir=/var/lib,upperdir=$scratch/ovl/upper,workdir=$scratch/ovl/work" /var/lib
for e in $held; do
	mkdir -p "${e#*:}"
	mount --move "$scratch/held/${e%%:*}" "${e#*:}"
done
mkdir -p /var/lib/resource-agents
mount --bind "$scratch/ra" /var/lib/resource-agents
if [ ! -d /run/resource-agents ]; then
	mount -t tmpfs -o mode=755 ocft-run /run
	mkdir /run/resource-agents
fi
mount --bind "$scratch/rsctmp" /run/resource-agents
mount -t tmpfs -o mode=1777 ocft-tmp /tmp
ln -s /run/resource-agents/.ocft_runlog /tmp/.ocft_runlog
cd /var/lib/resource-agents/ocft
ocft make -d /var/lib/resource-agents/ocft/configs "$config"
exec ocft test -v "$config"
`
