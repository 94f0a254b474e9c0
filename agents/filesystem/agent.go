// Package filesystem is ocf:paceline:Filesystem, which mounts a filesystem
// on start and unmounts it on stop: a drop-in replacement for
// ocf:heartbeat:Filesystem.
package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	return &ocf.Agent{Meta: Metadata(), Handlers: ocf.Actions(start, stop, monitor, validate)}
}

// state is the mount table and what it says about this resource.
type state struct {
	mounts  []mountinfo.Mount
	mount   *mountinfo.Mount // topmost mount on the directory
	facts   Facts
	verdict Verdict
}

// canonicalDir resolves symlinks in the mount point the way upstream's
// readlink -f does, since the mount table shows the real path. Only the
// parent is resolved by walking it; the last component is only read as a
// link, so that a hung filesystem mounted there is not touched.
func canonicalDir(dir string) string {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return dir
	}
	p := filepath.Join(parent, filepath.Base(dir))
	if target, err := os.Readlink(p); err == nil {
		if !filepath.IsAbs(target) {
			target = filepath.Join(parent, target)
		}
		if resolved, err := filepath.EvalSymlinks(target); err == nil {
			return resolved
		}
		return filepath.Clean(target)
	}
	return p
}

func observe(r *ocf.Request, c *Config) (*state, error) {
	c.Directory = canonicalDir(c.Directory)
	mounts, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	s := &state{mounts: mounts, mount: mountinfo.At(mounts, c.Directory)}
	s.facts = gatherFacts(c, mounts)
	s.verdict = Judge(c, s.mount, s.facts, identityReader(r, c, s.mount))
	return s, nil
}

// identityReader returns how to learn the identity of a mounted device for
// a UUID= or LABEL= resource. Start records which device number it mounted
// for that name in HA_RSCTMP, so that a monitor recognises it without
// reading the device (a stalled device would block the read, and a
// depth-0 monitor starts no child to abandon). Only without that record
// (a probe, or after a restart of the node) is the superblock read.
func identityReader(r *ocf.Request, c *Config, m *mountinfo.Mount) func(string) (Identity, bool) {
	return func(dev string) (Identity, bool) {
		if m != nil {
			if rec, err := r.ReadState(identityFile(r)); err == nil {
				if strings.TrimSpace(string(rec)) == identityRecord(c, m.Major, m.Minor) {
					return Identity{UUID: c.Device.UUID, Label: c.Device.Label}, true
				}
			}
		}
		return probeDevice(dev)
	}
}

func identityFile(r *ocf.Request) string {
	return "Filesystem-" + strings.ReplaceAll(r.Instance, "/", "_") + ".device"
}

func identityRecord(c *Config, major, minor uint32) string {
	return fmt.Sprintf("%s %d:%d", c.Device, major, minor)
}

// rememberIdentity records the device number a UUID= or LABEL= resource
// was mounted from (see identityReader).
func rememberIdentity(r *ocf.Request, c *Config, device string) {
	if c.Device.UUID == "" && c.Device.Label == "" {
		return
	}
	var st unix.Stat_t
	if unix.Stat(device, &st) != nil {
		return
	}
	rec := identityRecord(c, unix.Major(st.Rdev), unix.Minor(st.Rdev)) + "\n"
	_ = r.WriteState(identityFile(r), []byte(rec))
}

func (s *state) foreign(c *Config) string {
	return fmt.Sprintf("%s is mounted on %s (%s), not %s", s.mount.Source, c.Directory, s.mount.FSType, c.Device)
}

// startConfig reads the configuration as start and validate-all need it:
// also refusing a clone of a filesystem that is not cluster-aware.
func startConfig(r *ocf.Request) (*Config, error) {
	c, err := ParseConfig(r)
	if err != nil {
		return nil, err
	}
	if r.Meta.IsClone() {
		refuse, warn := c.CloneSafety()
		if refuse != "" {
			return nil, ocf.NotConfigured("%s", refuse)
		}
		if warn != "" && r.Action == "start" {
			r.Log.Warnf("%s", warn)
		}
	}
	return c, nil
}

func validate(ctx context.Context, r *ocf.Request) error {
	c, err := startConfig(r)
	if err != nil {
		return err
	}
	if !kernelSupports(KernelType(c.FSType)) {
		r.Log.Warnf("this kernel does not list %s in /proc/filesystems", c.FSType)
	}
	return nil
}

func start(ctx context.Context, r *ocf.Request) error {
	if err := ocf.NeedRoot("Filesystem", "mount and unmount"); err != nil {
		return err
	}
	c, err := startConfig(r)
	if err != nil {
		return err
	}
	r.Log.Infof("running start for %s on %s", c.Device, c.Directory)
	s, err := observe(r, c)
	if err != nil {
		return ocf.Generic("%v", err)
	}
	switch s.verdict {
	case Ours:
		r.Log.Infof("%s is already mounted on %s", c.Device, c.Directory)
		return nil
	case Foreign:
		return ocf.Generic("%s", s.foreign(c))
	}
	if sub := mountinfo.Under(s.mounts, c.Directory); len(sub) > 0 {
		return ocf.NotConfigured("there are mounts below %s (%s); refusing to mount over them", c.Directory, sub[0].Point)
	}
	if st, err := os.Stat(c.Directory); err == nil && !st.IsDir() {
		return ocf.NotInstalled("mount point %s exists and is not a directory", c.Directory)
	}

	device, probed, err := resolveDevice(c, ocf.Share(ctx, 4, 0, 5*time.Second))
	if err != nil {
		return err
	}
	if c.IsBlock() {
		if other := mountedElsewhere(s.mounts, device, c.Directory); other != "" {
			return ocf.Generic("%s is already mounted on %s", device, other)
		}
	}
	if !kernelSupports(KernelType(c.FSType)) {
		loadModule(ctx, r, c.FSType)
		if !kernelSupports(KernelType(c.FSType)) {
			return ocf.NotInstalled("this kernel does not support the filesystem type %s", c.FSType)
		}
	}
	if c.IsBlock() && c.NeedsFsck() {
		if err := fsck(ctx, r, c, device); err != nil {
			return err
		}
	}
	if c.needsRemoteOrdering() {
		// A failure here costs an orderly shutdown, not the mount.
		if err := orderAfterRemoteFS(systemdRuntime, systemdReload(ctx)); err != nil {
			r.Log.Warnf("ordering the cluster after remote-fs.target: %v", err)
		}
	}
	if err := os.MkdirAll(c.Directory, 0o755); err != nil {
		return ocf.NotInstalled("cannot create the mount point %s: %v", c.Directory, err)
	}
	r.Log.Infof("mounting %s on %s", device, c.Directory)
	if err := doMount(ctx, c, device, probed); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return ocf.Perm("%v", err)
		}
		return ocf.Generic("couldn't mount %s on %s: %v", c.Device, c.Directory, err)
	}
	rememberIdentity(r, c, device)
	return nil
}

// resolveDevice finds the device to mount and, for a block device, the
// filesystem type its superblock declares (for a mount without fstype).
func resolveDevice(c *Config, wait time.Duration) (device, probed string, err error) {
	switch {
	case c.Device.UUID != "" || c.Device.Label != "":
		found := findByIdentity(c.Device)
		switch {
		case len(found) == 0:
			return "", "", ocf.NotInstalled("no block device with %s on this node", c.Device)
		case len(found) > 1:
			return "", "", ocf.Generic("%s names several devices (%s); refusing to guess", c.Device, strings.Join(found, ", "))
		}
		dev := found[0]
		id, _ := probeDevice(dev)
		return dev, id.Type, nil
	case c.IsBind():
		if !isDir(c.Device.Path) && !exists(c.Device.Path) {
			return "", "", ocf.NotInstalled("bind source %s does not exist", c.Device.Path)
		}
		return c.Device.Path, "", nil
	case c.IsBlock():
		// A device that is still being attached (iSCSI, multipath, a DRBD
		// device node) gets a few seconds to appear, as upstream waits for
		// udev.
		var st unix.Stat_t
		for wait := time.Now().Add(wait); ; time.Sleep(200 * time.Millisecond) {
			if unix.Stat(c.Device.Path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
				break
			}
			if time.Now().After(wait) {
				return "", "", ocf.NotInstalled("couldn't find device %s: expected a block device", c.Device.Path)
			}
		}
		id, _ := probeDevice(c.Device.Path)
		return c.Device.Path, id.Type, nil
	}
	return c.Device.Path, "", nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// mountedElsewhere returns where else the block device is mounted, if it
// is (mount(8) refuses the second mount as "already mounted").
func mountedElsewhere(mounts []mountinfo.Mount, device, dir string) string {
	var st unix.Stat_t
	if unix.Stat(device, &st) != nil {
		return ""
	}
	maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	for _, m := range mounts {
		if m.Point != dir && (m.Major == maj && m.Minor == min || m.Source == device) {
			return m.Point
		}
	}
	return ""
}

func loadModule(ctx context.Context, r *ocf.Request, fstype string) {
	mod := fstype
	if strings.HasPrefix(fstype, "fuse") || fstype == "glusterfs" {
		mod = "fuse"
	}
	if _, err := ocf.LookPath("modprobe"); err != nil {
		return
	}
	if out, err := (ocf.Helper{Path: "modprobe", Args: []string{"-q", mod}}).Run(ctx); err != nil {
		r.Log.Warnf("modprobe %s: %v %s", mod, err, strings.TrimSpace(string(out.Stdout)))
	}
}

// fsck runs "fsck [-t TYPE] -p DEVICE"; exit codes of 4 and more (errors
// left uncorrected) fail the start.
func fsck(ctx context.Context, r *ocf.Request, c *Config, device string) error {
	args := []string{}
	if c.FSType != "" {
		args = append(args, "-t", c.FSType)
	}
	args = append(args, "-p", device)
	r.Log.Infof("checking %s: fsck %s", device, strings.Join(args, " "))
	out, err := ocf.Helper{Path: "fsck", Args: args}.Run(ctx)
	var ee *ocf.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.Code > 0 && ee.Code < 4:
		r.Log.Infof("fsck corrected errors on %s (exit %d)", device, ee.Code)
		return nil
	case errors.Is(err, ocf.ErrNotFound):
		return ocf.NotInstalled("fsck is needed to check %s (run_fsck=%s) and is not installed", device, c.RunFsck)
	}
	return ocf.Generic("fsck of %s failed: %v: %s", device, err, out.LastLine())
}

func monitor(ctx context.Context, r *ocf.Request) error {
	c, err := ParseConfig(r)
	if err != nil {
		return ocf.Stopped("%v", err)
	}
	switch r.CheckLevel {
	case 0, 10, 20:
	default:
		return ocf.NotConfigured("unsupported monitor depth %d (0, 10 or 20)", r.CheckLevel)
	}
	s, err := observe(r, c)
	if err != nil {
		return ocf.Generic("%v", err)
	}
	switch s.verdict {
	case NotMounted:
		return ocf.Stopped("")
	case Foreign:
		if r.Probe {
			return ocf.Stopped("%s", s.foreign(c))
		}
		return ocf.Generic("%s", s.foreign(c))
	}
	switch r.CheckLevel {
	case 10:
		dev := s.mount.Source
		if c.Device.Path != "" && s.facts.Block {
			dev = s.facts.Path
		}
		if !c.IsBlock() || !strings.HasPrefix(dev, "/dev/") {
			r.Log.Debugf("depth 10 reads only block devices; %s is not one", c.Device)
			return nil
		}
		if err := runCheck(ctx, "-read", dev); errors.Is(err, errHung) {
			return ocf.Generic("%s is hung: a read did not finish within the monitor's budget", dev)
		} else if err != nil {
			return ocf.Generic("read test of %s failed: %v", dev, err)
		}
	case 20:
		file := c.StatusFile(r.Instance, r.Meta.Clone, r.NodeName())
		if err := runCheck(ctx, "-write", file, "-content", r.Instance); errors.Is(err, errHung) {
			return ocf.Generic("%s is hung: the status file test did not finish within the monitor's budget", c.Directory)
		} else if err != nil {
			return ocf.Generic("status file test on %s failed: %v", c.Directory, err)
		}
	}
	return nil
}
