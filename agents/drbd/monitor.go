package drbd

import (
	"context"
	"fmt"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// monitor: 0 Secondary, 8 Primary, 9 Primary without reachable UpToDate
// data, 7 not running; the score is published unless a probe finds the
// resource stopped. It runs one program, drbdsetup events2, and
// crm_attribute only when the score must be written.
func (o *op) monitor(ctx context.Context) error {
	if !o.module.loaded && !o.moduleAvailable() {
		if o.r.Probe {
			return ocf.NotInstalled("DRBD kernel module not available")
		}
		o.publish(ctx, nil, false)
		return ocf.Stopped("DRBD kernel module not loaded and not available")
	}
	st, err := o.state(ctx)
	if err != nil {
		return err
	}
	if !st.Usable() {
		if !o.r.Probe {
			o.publish(ctx, st, false)
		}
		if st.Configured() {
			return ocf.Stopped("%s has no volumes", o.cfg.resource)
		}
		return ocf.Stopped("%s is not running", o.cfg.resource)
	}
	// A probe that finds it running always writes: the attribute may be
	// gone (Pacemaker restarted, node rejoined) while the cache is not.
	o.publish(ctx, st, o.r.Probe)
	if st.IsPrimary() {
		if st.QuorumLost() {
			return &ocf.Error{Code: ocf.FailedPromoted, Reason: o.cfg.resource + " is Primary and has lost quorum"}
		}
		if bad := st.NoUpToDateData(); len(bad) > 0 {
			return &ocf.Error{Code: ocf.FailedPromoted, Reason: fmt.Sprintf(
				"%s is Primary without UpToDate data on volume %v: %s", o.cfg.resource, bad, st.Summary())}
		}
		return ocf.Result(ocf.RunningPromoted)
	}
	return nil
}
