package drbd

import (
	"context"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// stop demotes and takes the resource down until the deadline (the rules:
// drbdstate.Stopping), then outdates the local data when asked to and
// removes the score.
func (o *op) stop(ctx context.Context) error {
	rules := drbdstate.Stopping{Resource: o.cfg.resource, Module: o.module.version, Pause: o.pause}
	if _, err := o.drive(ctx, rules); err != nil {
		return err
	}
	if o.cfg.stopOutdatesSecondary {
		o.outdateIfPeerPromoted(ctx, nil)
	}
	o.publish(ctx, nil, true)
	return nil
}

// stopRescue is stop when the parameters or the module fail the checks:
// as upstream, try drbdsetup down, so that a configuration error does not
// get the node fenced.
func (s *system) stopRescue(ctx context.Context, r *ocf.Request, o *op, cause error) error {
	if o == nil || !validName(o.cfg.resource) {
		return cause
	}
	// Nothing can be running without the module, or when the kernel does
	// not know the resource.
	if m, err := s.readModule(); err == nil && !m.loaded {
		o.removeScore(ctx)
		return nil
	} else if err == nil {
		o.module = m
		if st, err := o.state(ctx); err == nil && !st.Configured() {
			o.removeScore(ctx)
			return nil
		}
	}
	res := s.run(ctx, r.Environ(), o.drbdsetupProgram(), "down", o.cfg.resource)
	if res.err != nil {
		return ocf.Generic("%v; drbdsetup down %s failed too: %s", ocf.ReasonOf(cause), o.cfg.resource, res.msg())
	}
	r.Log.Warnf("stopped %s with drbdsetup down despite: %v", o.cfg.resource, ocf.ReasonOf(cause))
	o.removeScore(ctx)
	return nil
}
