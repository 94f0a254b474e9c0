package virtualdomain

import (
	"context"
	"path/filepath"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// stop shuts the domain down (or saves it, with snapshot) and destroys it
// when it has not stopped by GracefulUntil, which keeps enough of the
// budget for the destroy: a stop that fails gets the node fenced.
func stop(ctx context.Context, a *action) error {
	d, err := a.lookup(ctx)
	if err != nil {
		return err
	}
	s, err := a.state(ctx, d)
	if err != nil {
		return err
	}
	if !s.Active() {
		a.r.Log.Infof("domain %s is already stopped (%s)", a.name, s)
		return nil
	}
	// A crashed or suspended guest cannot act on a shutdown request.
	graceful := s == Running || s == Blocked || s == Paused || s == ShuttingDown
	switch {
	case a.cfg.ForceStop:
		a.r.Log.Infof("force_stop: destroying domain %s", a.name)
	case !graceful:
		a.r.Log.Infof("domain %s is %s: destroying it", a.name, s)
	default:
		if done, err := a.gracefulStop(ctx, d); err != nil || done {
			return err
		}
	}
	return a.destroy(ctx, d)
}

// gracefulStop saves (snapshot) or shuts the domain down, until the time
// kept for a destroy is reached. done is true when the domain stopped.
func (a *action) gracefulStop(ctx context.Context, d Domain) (done bool, err error) {
	until := GracefulUntil(time.Now(), a.r.Deadline)
	gctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()

	if a.cfg.Snapshot != "" {
		file := filepath.Join(a.cfg.Snapshot, a.name+".state")
		if err := d.Save(gctx, file); err != nil {
			a.r.Log.Errorf("failed to save the state of domain %s to %s: %v; shutting it down", a.name, file, err)
		} else {
			a.r.Log.Infof("domain %s saved to %s", a.name, file)
			return a.waitStopped(ctx, d)
		}
	}
	if a.cfg.SaveConfig {
		a.saveConfig(gctx, d)
	}
	// The request is repeated: a guest that is still booting loses it.
	next := time.Now()
	for {
		if !time.Now().Before(until) {
			a.r.Log.Warnf("domain %s did not shut down gracefully in time: destroying it", a.name)
			return false, nil
		}
		if !time.Now().Before(next) {
			if err := d.Shutdown(gctx, a.cfg.ShutdownModes); err != nil {
				a.r.Log.Warnf("shutdown request to domain %s failed: %v", a.name, err)
			}
			next = time.Now().Add(a.shutdownEvery)
		}
		s, err := d.State(gctx)
		if err == nil && !s.Active() {
			a.r.Log.Infof("domain %s shut down", a.name)
			return true, nil
		}
		ocf.Sleep(gctx, 250*time.Millisecond)
	}
}

// destroy kills the domain and waits until libvirt says it is off.
func (a *action) destroy(ctx context.Context, d Domain) error {
	if err := d.Destroy(ctx); err != nil {
		return ocf.Generic("failed to destroy domain %s: %v", a.name, err)
	}
	if _, err := a.waitStopped(ctx, d); err != nil {
		return err
	}
	a.r.Log.Infof("domain %s destroyed", a.name)
	return nil
}

// waitStopped polls until the domain is off, to the end of the stop's
// budget.
func (a *action) waitStopped(ctx context.Context, d Domain) (bool, error) {
	for {
		s, err := d.State(ctx)
		if err == nil && !s.Active() {
			return true, nil
		}
		if !ocf.Sleep(ctx, 100*time.Millisecond) {
			if err != nil {
				return false, ocf.Generic("domain %s: cannot tell whether it stopped: %v", a.name, err)
			}
			return false, ocf.Generic("domain %s is still %s at the end of the stop's time", a.name, s)
		}
	}
}
