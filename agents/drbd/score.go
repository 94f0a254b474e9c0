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
//
// The cache holds what the decision was made from (the decision by the
// state alone, and whether remove_master_score_if_peer_primary=unexpected
// had to ask Pacemaker), so that a steady monitor asks nobody anything.
func (o *op) publish(ctx context.Context, st *drbd.Resource, force bool) {
	d := drbd.Promotion(st, o.cfg.adjust, drbd.ScoreOptions{})
	key := decisionKey(d)
	peerPrimary := promotedMax(o.r.Meta) == 1 && st.Configured() && !st.IsPrimary() && st.PeerPrimary() != ""
	ask := false
	switch o.cfg.removeIfPeerPrim {
	case "true":
		d = drbd.Promotion(st, o.cfg.adjust, drbd.ScoreOptions{RemoveIfPeerPrimary: promotedMax(o.r.Meta) == 1})
	case "unexpected":
		ask = peerPrimary && d.Action == drbd.Set
	}
	if ask {
		key += " (peer Primary, asked Pacemaker)"
	}
	if d.Action == drbd.Keep {
		o.r.Log.Debugf("promotion score of %s: %s", o.cfg.res, d)
		return
	}
	cache := o.scoreCache()
	if !force && cacheFresh(cache, key) {
		return
	}
	if ask && !o.pacemakerKnowsPromoted(ctx) {
		d = drbd.Promotion(st, o.cfg.adjust, drbd.ScoreOptions{RemoveIfPeerPrimary: true})
	}
	// Forget the last write first: should anything below fail, the next
	// monitor writes again.
	_ = os.Remove(cache)
	attrs := o.attributes(o.r)
	var err error
	if d.Action == drbd.Set {
		err = attrs.SetPromotionScore(ctx, o.r.BaseInstance(), d.Score)
	} else {
		err = attrs.DeletePromotionScore(ctx, o.r.BaseInstance())
	}
	if err != nil {
		o.r.Log.Errorf("promotion score of %s (%s): %v", o.cfg.res, d, err)
		return
	}
	o.r.Log.Debugf("promotion score of %s: %s", o.cfg.res, d)
	if err := os.MkdirAll(o.r.StateDir, 0o755); err == nil {
		_ = ocf.WriteFileAtomic(cache, []byte(key+"\n"), 0o644)
	}
	if o.cfg.unfence && st.IsPrimary() && st.AllLocalUpToDate() && st.AllPeersAllUpToDate() {
		if res := o.adm(ctx, "unfence-peer", o.cfg.res); res.err != nil {
			o.r.Log.Warnf("unfence-peer %s: %s", o.cfg.res, res.msg())
		}
	}
}

// decisionKey is how a decision is remembered in the cache.
func decisionKey(d drbd.Decision) string {
	if d.Action == drbd.Set {
		return "set " + strconv.Itoa(d.Score)
	}
	return d.Action.String()
}

// cacheFresh reports whether the cache holds key and was written less than
// scoreRefresh ago.
func cacheFresh(cache, key string) bool {
	fi, err := os.Stat(cache)
	if err != nil {
		return false
	}
	if age := time.Since(fi.ModTime()); age < 0 || age >= scoreRefresh {
		return false
	}
	data, err := os.ReadFile(cache)
	return err == nil && strings.TrimSpace(string(data)) == key
}

// removeScore deletes this node's promotion score (and forgets the
// cache), whatever the state says.
func (o *op) removeScore(ctx context.Context) {
	_ = os.Remove(o.scoreCache())
	if err := o.attributes(o.r).DeletePromotionScore(ctx, o.r.BaseInstance()); err != nil {
		o.r.Log.Errorf("removing the promotion score of %s: %v", o.cfg.res, err)
	}
}

// pacemakerKnowsPromoted asks Pacemaker whether it has a promoted instance
// of this clone (for remove_master_score_if_peer_primary=unexpected). Any
// doubt counts as yes, which keeps the score.
func (o *op) pacemakerKnowsPromoted(ctx context.Context) bool {
	res := o.run(ctx, o.r.Environ(), "crm_resource", "--resource", o.r.BaseInstance(), "--locate", "--output-as=xml")
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
