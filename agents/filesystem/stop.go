package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// stop unmounts the filesystem, signalling the processes that hold it as
// the parameters say, and goes on until no mount of it is left on the
// directory, always before its deadline.
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
