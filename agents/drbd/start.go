package drbd

import (
	"context"
	"strings"
	"time"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// start brings the resource up (or adjusts it to the configuration),
// waits for the peers as configured and publishes the score.
func (o *op) start(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	if !o.module.loaded {
		if err := o.loadModule(ctx); err != nil {
			return err
		}
		// The instance limits depend on the module's version.
		if err := checkClone(o.r.Meta, o.module.version); err != nil {
			return err
		}
	}
	st, err := o.state(ctx)
	if err != nil {
		return err
	}
	var res runResult
	switch {
	case o.cfg.connectOnlyAfterPromote:
		res = o.drbdadm(ctx, "adjust", "--skip-net", o.cfg.resource)
	case !st.Configured():
		res = o.drbdadm(ctx, "up", o.cfg.resource)
	default:
		res = o.drbdadm(ctx, "adjust", o.cfg.resource)
	}
	if res.err != nil {
		// adjust fails for reasons that leave the resource usable (a
		// peer not answering); the state below decides.
		o.r.Log.Warnf("drbdadm up/adjust %s: %s", o.cfg.resource, res.msg())
	}
	if st, err = o.state(ctx); err != nil {
		return err
	}
	if !st.Configured() {
		return ocf.Generic("%s did not come up: %s", o.cfg.resource, res.msg())
	}
	if st.IsPrimary() {
		o.r.Log.Warnf("%s was Primary at start: demoting it", o.cfg.resource)
		if res := o.drbdadm(ctx, "secondary", o.cfg.resource); res.err != nil {
			return ocf.Generic("%s is Primary at start and cannot be demoted: %s", o.cfg.resource, res.msg())
		}
		if st, err = o.state(ctx); err != nil {
			return err
		}
	}
	if !st.Usable() {
		return ocf.Generic("%s came up without volumes: %s", o.cfg.resource, res.msg())
	}
	for _, v := range st.Volumes {
		if v.Disk == drbdstate.Diskless && !v.Client || v.Disk == drbdstate.Failed {
			return ocf.Generic("%s volume %d has no disk (%s) after start: %s", o.cfg.resource, v.Number, v.Disk, res.msg())
		}
	}
	if o.cfg.connectTimeout > 0 && !o.cfg.connectOnlyAfterPromote {
		st = o.waitConnected(ctx, st)
	}
	o.publish(ctx, st, true)
	return nil
}

// loadModule loads drbd with the parameters the configuration asks for.
func (o *op) loadModule(ctx context.Context) error {
	args := []string{"-s", "drbd"}
	if res := o.drbdadm(ctx, "sh-mod-parms"); res.err == nil {
		args = append(args, strings.Fields(string(res.out))...)
	}
	if res := o.run(ctx, o.r.Environ(), "modprobe", args...); res.err != nil {
		return ocf.NotInstalled("modprobe drbd: %s", res.msg())
	}
	m, err := o.readModule()
	if err != nil {
		return err
	}
	if !m.loaded {
		return ocf.NotInstalled("modprobe drbd succeeded but /proc/drbd is missing")
	}
	o.module = m
	return o.cfg.checkVersion(m.version)
}

// connectPoll is how often start reads the state while it waits for the
// peers to connect.
const connectPoll = 200 * time.Millisecond

// waitConnected polls until every peer is connected, for wfc_timeout at
// most (and never past the operation's deadline). Not connecting is only
// logged: the peer may not be started yet.
func (o *op) waitConnected(ctx context.Context, st *drbdstate.Resource) *drbdstate.Resource {
	begin := time.Now()
	end := begin.Add(o.cfg.connectTimeout)
	for !st.AllPeersConnected() {
		if time.Now().After(end) || !ocf.Sleep(ctx, connectPoll) {
			o.r.Log.Infof("%s: peers not connected after %v: %s", o.cfg.resource, time.Since(begin).Round(time.Millisecond), st.Summary())
			return st
		}
		next, err := o.state(ctx)
		if err != nil || next == nil {
			return st
		}
		st = next
	}
	return st
}
