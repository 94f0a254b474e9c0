package drbd

import (
	"context"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
)

// promote makes this node Primary (the rules: drbdstate.Promoting), then
// connects when connect_only_after_promote kept it from connecting, and
// publishes the score.
func (o *op) promote(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	rules := drbdstate.Promoting{Resource: o.cfg.resource, PromotedMax: promotedMax(o.r.Meta),
		PeerPrimaryGrace: o.peerPrimaryGrace, Pause: o.pause}
	if _, err := o.drive(ctx, rules); err != nil {
		return err
	}
	if o.cfg.connectOnlyAfterPromote {
		if res := o.drbdadm(ctx, "adjust", o.cfg.resource); res.err != nil {
			o.r.Log.Warnf("adjust %s after promotion: %s", o.cfg.resource, res.msg())
		}
	}
	st, err := o.state(ctx)
	if err != nil {
		return err
	}
	o.publish(ctx, st, true)
	return nil
}

// demote makes this node Secondary (the rules: drbdstate.Demoting) and
// publishes the score.
func (o *op) demote(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	st, err := o.drive(ctx, drbdstate.Demoting{Resource: o.cfg.resource, Pause: o.pause})
	if err != nil {
		return err
	}
	o.publish(ctx, st, true)
	return nil
}
