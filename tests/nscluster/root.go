package nscluster

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/tests/harness"
)

// Nodes that run another userspace (Spec.Root, for instance the
// Debian 13 root of tests/trixie-root.sh, with Pacemaker 3): each node
// gets the root as an overlay of its own (the root stays as built, the
// node's writes go to <node dir>/upper), then pivots into it as a
// container does, so that the node and every command entering its mount
// namespace see that userspace only. Shared with this machine, at the
// same paths: /dev (loop devices, tun), /tmp, the cluster's directory
// and the test cache (the VMs' kernel and initramfs).

// rootIDs returns the uid of user and the gid of group in the
// userspace root ("" for this machine's): a node's Pacemaker runs as the
// hacluster of its own /etc/passwd, whose number may differ from this
// machine's.
func rootIDs(root, user, group string) (uid, gid int, err error) {
	uid, err = idOf(filepath.Join("/", root, "etc/passwd"), user)
	if err != nil {
		return 0, 0, err
	}
	gid, err = idOf(filepath.Join("/", root, "etc/group"), group)
	return uid, gid, err
}

// idOf returns the number (third field) of name in a passwd or group file.
func idOf(file, name string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			return strconv.Atoi(fields[2])
		}
	}
	return 0, fmt.Errorf("%s: no %s (package pacemaker)", file, name)
}

// enterRoot makes c.Root the root of node i's mount namespace (which
// must be private already): an overlay with the node's own upper layer,
// this machine's shared paths bound into it, then pivot_root.
func (c *Cluster) enterRoot(i int) error {
	d := c.nodeDir(i)
	top := filepath.Join(d, "rootfs")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", c.Root, filepath.Join(d, "upper"), filepath.Join(d, "work"))
	if err := unix.Mount("overlay", top, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay of %s: %v", c.Root, err)
	}
	cache := c.Cache
	if cache == "" { // a cluster.json written before the field
		cache = harness.CacheRoot()
	}
	for _, p := range []string{"/dev", "/tmp", c.Dir, cache} {
		target := filepath.Join(top, p)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(p, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s into the root: %v", p, err)
		}
	}
	// pivot_root(".", "."): the old root ends up stacked on the new one,
	// and detaching it leaves the node nothing of this machine's but
	// what was bound in above.
	if err := unix.Chdir(top); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %v", top, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %v", err)
	}
	return unix.Chdir("/")
}
