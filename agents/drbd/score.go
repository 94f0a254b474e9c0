package drbd

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// scoreRefresh is how long a published score is trusted: a monitor that
// reaches the same decision within this time skips crm_attribute (a
// process and an IPC round trip to the attribute manager). After it, the
// score is written again, so that a value lost on the Pacemaker side
// (attribute manager restarted, node rejoined) comes back.
const scoreRefresh = time.Minute

// scoreCache is the file that remembers the last published decision, in
// HA_RSCTMP (cleared at boot, like the transient attribute itself).
func (o *op) scoreCache() string {
	name := strings.NewReplacer("/", "_", ":", "_").Replace(o.r.BaseInstance())
	return filepath.Join(o.r.StateDir, "paceline-drbd-"+name+".score")
}

// publish applies the promotion decision for st (nil: not running). With
// force, it always writes; otherwise it skips a write that repeats the
// last one made less than scoreRefresh ago. A failure is logged, never
// returned: the action's own result stands, as upstream.
func (o *op) publish(ctx context.Context, st *drbd.Resource, force bool) {
	opt := drbd.ScoreOptions{}
	switch o.cfg.removeIfPeerPrim {
	case "true":
		opt.RemoveIfPeerPrimary = promotedMax(o.r.Meta) == 1
	case "unexpected":
		opt.RemoveIfPeerPrimary = promotedMax(o.r.Meta) == 1 && st.Configured() && !st.IsPrimary() &&
			st.PeerPrimary() != "" && !o.pacemakerKnowsPromoted(ctx)
	}
	d := drbd.Promotion(st, o.cfg.adjust, opt)
	if d.Action == drbd.Keep {
		o.r.Log.Debugf("promotion score of %s: %s", o.cfg.res, d)
		return
	}
	want := "remove"
	if d.Action == drbd.Set {
		want = "set " + strconv.Itoa(d.Score)
	}
	cache := o.scoreCache()
	if !force {
		if fi, err := os.Stat(cache); err == nil && time.Since(fi.ModTime()) < scoreRefresh && time.Since(fi.ModTime()) >= 0 {
			if data, err := os.ReadFile(cache); err == nil && strings.TrimSpace(string(data)) == want {
				return
			}
		}
	}
	attrs := o.attributes(o.r)
	var err error
	if d.Action == drbd.Set {
		err = attrs.SetPromotionScore(ctx, o.r.BaseInstance(), d.Score)
	} else {
		err = attrs.DeletePromotionScore(ctx, o.r.BaseInstance())
	}
	if err != nil {
		_ = os.Remove(cache)
		o.r.Log.Errorf("promotion score of %s (%s): %v", o.cfg.res, d, err)
		return
	}
	o.r.Log.Debugf("promotion score of %s: %s", o.cfg.res, d)
	if err := os.MkdirAll(o.r.StateDir, 0o755); err == nil {
		_ = ocf.WriteFileAtomic(cache, []byte(want+"\n"), 0o644)
	}
	if o.cfg.unfence && st.IsPrimary() && st.AllLocalUpToDate() && st.AllPeersAllUpToDate() {
		if res := o.adm(ctx, "unfence-peer", o.cfg.res); res.err != nil {
			o.r.Log.Warnf("unfence-peer %s: %s", o.cfg.res, res.msg())
		}
	}
}

// pacemakerKnowsPromoted asks Pacemaker whether it has a promoted instance
// of this clone (for remove_master_score_if_peer_primary=unexpected). Any
// doubt counts as yes, which keeps the score.
func (o *op) pacemakerKnowsPromoted(ctx context.Context) bool {
	res := o.run(ctx, nil, "crm_resource", "--resource", o.r.BaseInstance(), "--locate", "--output-as=xml")
	if res.err != nil {
		return true
	}
	return locateShowsPromoted(res.out)
}

// locateShowsPromoted reads crm_resource --locate --output-as=xml: a node
// element with state="promoted" (or the older "Master").
func locateShowsPromoted(out []byte) bool {
	s := strings.ToLower(string(out))
	return strings.Contains(s, `state="promoted"`) || strings.Contains(s, `state="master"`)
}
