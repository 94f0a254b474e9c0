package drbd

import (
	"context"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
)

// notify connects peers that start (adjust), and after every operation
// re-reads the state and publishes the score. It always succeeds once the
// configuration is valid.
func (o *op) notify(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	n := o.r.Notify
	st, err := o.state(ctx)
	if err != nil {
		o.r.Log.Warnf("notify %s-%s: %v", n.Type, n.Operation, err)
		return nil
	}
	if n.Operation == "start" && !o.cfg.connectOnlyAfterPromote && st.Configured() {
		if res := o.drbdadm(ctx, "-v", "adjust", o.cfg.resource); res.err != nil {
			o.r.Log.Warnf("adjust %s for a starting peer: %s", o.cfg.resource, res.msg())
		}
	}
	if n.Type == "post" && st.Configured() {
		if st, err = o.state(ctx); err != nil {
			o.r.Log.Warnf("notify %s-%s: %v", n.Type, n.Operation, err)
			return nil
		}
		if o.cfg.stopOutdatesSecondary && st.AnyPeerDiskUnknown() && o.outdateIfPeerPromoted(ctx, st) {
			if st, err = o.state(ctx); err != nil {
				o.r.Log.Warnf("notify %s-%s: %v", n.Type, n.Operation, err)
				return nil
			}
		}
		o.publish(ctx, st, true)
	}
	return nil
}

// outdateIfPeerPromoted marks the local data Outdated when another node
// is promoted and this one is not (stop_outdates_secondary); true when it
// did. st is the state, nil after a stop.
func (o *op) outdateIfPeerPromoted(ctx context.Context, st *drbdstate.Resource) bool {
	me := o.r.NodeName() // "" when unknown: then every promoted node is another
	other := ""
	stopping := map[string]bool{}
	for _, n := range o.r.Notify.Unames["stop"] {
		stopping[n] = true
	}
	// The promoted list describes the state before the transition: a
	// Primary that is being stopped (or was fenced) is no reason to
	// outdate this node's data, which may be the best left.
	for _, n := range o.r.Notify.Unames["promoted"] {
		if n != me && !stopping[n] {
			other = n
		}
	}
	if other == "" {
		return false
	}
	if st.IsPrimary() {
		o.r.Log.Errorf("%s is Primary here and on %s: DRBD split brain", o.cfg.resource, other)
		return false
	}
	if res := o.drbdadm(ctx, "outdate", o.cfg.resource); res.err != nil {
		o.r.Log.Warnf("outdate %s (%s is Primary): %s", o.cfg.resource, other, res.msg())
		return false
	}
	o.r.Log.Infof("outdated %s: %s is Primary", o.cfg.resource, other)
	return true
}
