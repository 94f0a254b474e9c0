// Package filesystem is ocf:paceline:Filesystem, which mounts a filesystem
// on start and unmounts it on stop: a drop-in replacement for
// ocf:heartbeat:Filesystem.
package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	return &ocf.Agent{
		Meta: Metadata(),
		Handlers: map[string]ocf.Handler{
			"start":        start,
			"stop":         stop,
			"monitor":      monitor,
			"validate-all": validate,
		},
	}
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
		if why := c.CloneRefusal(); why != "" {
			return nil, ocf.NotConfigured("%s", why)
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
	if _, err := exec.LookPath("modprobe"); err != nil {
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
	case errors.Is(err, exec.ErrNotFound):
		return ocf.NotInstalled("fsck is needed to check %s (run_fsck=%s) and is not installed", device, c.RunFsck)
	}
	return ocf.Generic("fsck of %s failed: %v: %s", device, err, lastLine(out.Stdout))
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
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

func stop(ctx context.Context, r *ocf.Request) error {
	if err := ocf.NeedRoot("Filesystem", "mount and unmount"); err != nil {
		return err
	}
	c, err := ParseConfig(r)
	if err != nil {
		// Nothing can have been mounted from a configuration that cannot be
		// read; a failed stop would get the node fenced.
		r.Log.Warnf("stop with an invalid configuration, nothing to do: %v", err)
		return nil
	}
	r.Log.Infof("running stop for %s on %s", c.Device, c.Directory)
	s, err := observe(r, c)
	if err != nil {
		return ocf.Generic("%v", err)
	}
	switch s.verdict {
	case NotMounted:
		return nil
	case Foreign:
		r.Log.Warnf("%s; leaving it mounted", s.foreign(c))
		return nil
	}
	file := c.StatusFile(r.Instance, r.Meta.Clone, r.NodeName())
	if err := removeStatus(ctx, file, time.Second); err != nil {
		r.Log.Warnf("removing the status file %s: %v", file, err)
	}

	// Below the directory first, deepest first; then, for a block device,
	// its other mounts, which keep it busy; then the directory.
	targets := mountinfo.Under(s.mounts, c.Directory)
	if c.IsBlock() {
		targets = append(targets, OtherMountsOfDevice(s.mounts, s.mount)...)
	}
	targets = append(targets, *s.mount)
	u := &unmounter{r: r, c: c, mounts: s.mounts}
	for i := range targets {
		if err := u.unmount(ctx, &targets[i]); err != nil {
			return err
		}
	}
	// The device may have been mounted on the directory more than once
	// (stacked mounts): go on until none is left.
	again, err := observe(r, c)
	if err != nil {
		return ocf.Generic("%v", err)
	}
	if again.verdict == Ours {
		if depth := stackDepth(ctx); depth < 8 && ctx.Err() == nil {
			r.Log.Infof("%s is still mounted on %s (stacked mounts); unmounting again", c.Device, c.Directory)
			return stop(context.WithValue(ctx, stackKey{}, depth+1), r)
		}
		return ocf.Generic("%s is still mounted on %s after unmounting it", c.Device, c.Directory)
	}
	return nil
}

type stackKey struct{}

func stackDepth(ctx context.Context) int {
	d, _ := ctx.Value(stackKey{}).(int)
	return d
}

// unmounter takes mounts down, signalling their holders as configured.
type unmounter struct {
	r      *ocf.Request
	c      *Config
	mounts []mountinfo.Mount
	stuck  chan error // an unmount attempt that has not returned yet
}

// scan runs the /proc scan on a goroutine it can leave behind: reading
// the memory maps of a process takes that process's mmap lock, which a
// thread faulting on a hung filesystem can hold for as long as it hangs.
// The scan gets at most a quarter of the time left.
func (u *unmounter) scan(s Scope, end time.Time) []Holder {
	// Each scan gets its own ID set: a scan left behind may still be
	// adding to the one it has.
	ids := make(map[int]bool, len(s.IDs))
	for id := range s.IDs {
		ids[id] = true
	}
	s.IDs = ids
	done := make(chan []Holder, 1)
	go func() { done <- FindHolders("/proc", s) }()
	select {
	case hs := <-done:
		return hs
	case <-time.After(time.Until(end) / 4):
		u.r.Log.Warnf("the scan of /proc for processes holding %s does not finish (a process is stuck); going on without it", s.Target.Point)
		return nil
	}
}

// errStuck means an unmount call did not return: the filesystem is hung.
var errStuck = errors.New("the unmount does not return: the filesystem is hung")

// attempt calls umount2 on a thread it can leave behind: unmounting a
// filesystem whose server is gone (FUSE, NFS) can block in the kernel while
// it syncs. When the call does not return within wait, the unmount is
// forced (MNT_FORCE aborts a FUSE connection and pending NFS and CIFS
// calls), which also releases the blocked call.
func (u *unmounter) attempt(point string, flags int, wait time.Duration, end time.Time) error {
	// Never wait past the end of the budget (twice wait in all, at most).
	wait = ocf.ShareUntil(time.Now(), end, 2, 10*time.Millisecond, wait)
	if u.stuck == nil {
		u.stuck = make(chan error, 1)
		go func(done chan error) { done <- tryUnmount(point, flags) }(u.stuck)
	}
	select {
	case err := <-u.stuck:
		u.stuck = nil
		return err
	case <-time.After(wait):
	}
	u.r.Log.Warnf("unmounting %s does not return; forcing it (the filesystem is hung)", point)
	forced := make(chan error, 1)
	go func() { forced <- tryUnmount(point, flags|unix.MNT_FORCE) }()
	select {
	case err := <-u.stuck:
		u.stuck = nil
		return err
	case err := <-forced:
		if err == nil {
			// Forced through; the first call returns on its own.
			u.stuck = nil
			return nil
		}
	case <-time.After(wait):
	}
	return errStuck
}

func (u *unmounter) unmount(ctx context.Context, m *mountinfo.Mount) error {
	flags := unmountFlags(m.FSType)
	if strings.HasPrefix(m.FSType, "fuse.") || m.FSType == "fuse" {
		flags = unmountFlags(u.c.FSType)
	}
	start := time.Now()
	end, _ := ctx.Deadline()
	if u.c.FastStop && start.Add(6*time.Second).Before(end) {
		end = start.Add(6 * time.Second)
	}
	// How long an unmount call may take before it counts as hung.
	hang := ocf.ShareUntil(start, end, 8, 0, 2*time.Second)
	err := u.attempt(m.Point, flags, hang, end)
	if err == nil {
		u.r.Log.Infof("unmounted %s", m.Point)
		return nil
	}
	half := start.Add(end.Sub(start) / 2)
	scope := Scope{Target: m, IDs: map[int]bool{m.ID: true}, Skip: map[int]bool{os.Getpid(): true},
		Mounts: namespaceMounts, MountOf: linkMount}
	scope.NS, _ = os.Readlink("/proc/self/ns/mnt")
	var last []Holder
	for time.Now().Before(end) {
		if !errors.Is(err, unix.EBUSY) && !errors.Is(err, errStuck) {
			return ocf.Generic("couldn't unmount %s: %v", m.Point, err)
		}
		if u.c.Kill {
			last = u.scan(scope, end)
			sigs := u.c.TermSignals
			if !time.Now().Before(half) {
				sigs = u.c.KillSignals
			}
			for _, h := range last {
				for _, sig := range sigs {
					u.r.Log.Infof("sending %s to %d (%s), which holds %s by its %s", unix.SignalName(sig), h.PID, h.Comm, m.Point, h.Why)
					_ = unix.Kill(h.PID, sig)
				}
			}
			if len(last) == 0 {
				u.r.Log.Infof("%s is busy but no process holds it", m.Point)
			}
		}
		// Retry the unmount often until the next round of signals.
		next := time.Now().Add(u.c.SignalDelay)
		if next.After(end) {
			next = end
		}
		for {
			time.Sleep(50 * time.Millisecond)
			if err = u.attempt(m.Point, flags, hang, end); err == nil {
				u.r.Log.Infof("unmounted %s after %s", m.Point, time.Since(start).Round(10*time.Millisecond))
				return nil
			}
			if !time.Now().Before(next) {
				break
			}
		}
	}
	if errors.Is(err, errStuck) {
		return ocf.Generic("couldn't unmount %s: it is hung, and forcing did not help", m.Point)
	}
	if len(last) > 0 {
		var pids []string
		for _, h := range last {
			pids = append(pids, fmt.Sprintf("%d (%s)", h.PID, h.Comm))
		}
		return ocf.Generic("couldn't unmount %s: still held by %s", m.Point, strings.Join(pids, ", "))
	}
	if !u.c.Kill {
		return ocf.Generic("couldn't unmount %s: busy, and force_unmount=false", m.Point)
	}
	return ocf.Generic("couldn't unmount %s: %v", m.Point, err)
}
