package drbd

import (
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
)

// scoreRefresh is how long a published score is trusted: a monitor that
// reaches the same decision within this time skips crm_attribute (a
// process and an IPC round trip to the attribute manager). After it, the
// score is written again, so that a value lost on the Pacemaker side
// (attribute manager restarted, node rejoined) comes back.
const scoreRefresh = time.Minute

// scoreCacheName is the state file that remembers the last published
// decision, in HA_RSCTMP (cleared at boot, like the transient attribute
// itself).
func (o *op) scoreCacheName() string {
	name := strings.NewReplacer("/", "_", ":", "_").Replace(o.r.BaseInstance())
	return "paceline-drbd-" + name + ".score"
}

// publish applies the promotion decision for st (nil: not running). With
// force, it always writes; otherwise it skips a write that repeats the
// last one made less than scoreRefresh ago. A failure is logged, never
// returned: the action's own result stands, as upstream.
//
// The cache holds what the decision was made from (the decision by the
// state alone, and whether remove_master_score_if_peer_primary=unexpected
// had to ask Pacemaker), so that a steady monitor asks nobody anything.
func (o *op) publish(ctx context.Context, st *drbdstate.Resource, force bool) {
	d := drbdstate.Promotion(st, o.cfg.adjust, drbdstate.ScoreOptions{})
	key := decisionKey(d)
	peerPrimary := promotedMax(o.r.Meta) == 1 && st.Configured() && !st.IsPrimary() && st.PeerPrimary() != ""
	ask := false
	switch o.cfg.ifPeerPrimary {
	case removeScoreIfPeerPrimary:
		d = drbdstate.Promotion(st, o.cfg.adjust, drbdstate.ScoreOptions{RemoveIfPeerPrimary: promotedMax(o.r.Meta) == 1})
	case removeScoreIfUnexpectedPrimary:
		ask = peerPrimary && d.Action == drbdstate.Set
	}
	if ask {
		key += " (peer Primary, asked Pacemaker)"
	}
	if d.Action == drbdstate.Keep {
		o.r.Log.Debugf("promotion score of %s: %s", o.cfg.resource, d)
		return
	}
	cache := o.scoreCacheName()
	if !force && o.cacheFresh(cache, key) {
		return
	}
	if ask && !o.pacemakerKnowsPromoted(ctx) {
		d = drbdstate.Promotion(st, o.cfg.adjust, drbdstate.ScoreOptions{RemoveIfPeerPrimary: true})
	}
	// Forget the last write first: should anything below fail, the next
	// monitor writes again.
	_ = o.r.RemoveState(cache)
	attrs := o.attributes(o.r)
	var err error
	if d.Action == drbdstate.Set {
		err = attrs.SetPromotionScore(ctx, o.r.BaseInstance(), d.Score)
	} else {
		err = attrs.DeletePromotionScore(ctx, o.r.BaseInstance())
	}
	if err != nil {
		o.r.Log.Errorf("promotion score of %s (%s): %v", o.cfg.resource, d, err)
		return
	}
	o.r.Log.Debugf("promotion score of %s: %s", o.cfg.resource, d)
	_ = o.r.WriteState(cache, []byte(key+"\n"))
	if o.cfg.unfenceIfAllUpToDate && st.IsPrimary() && st.AllLocalUpToDate() && st.AllPeersAllUpToDate() {
		if res := o.drbdadm(ctx, "unfence-peer", o.cfg.resource); res.err != nil {
			o.r.Log.Warnf("unfence-peer %s: %s", o.cfg.resource, res.msg())
		}
	}
}

// decisionKey is how a decision is remembered in the cache.
func decisionKey(d drbdstate.Decision) string {
	if d.Action == drbdstate.Set {
		return "set " + strconv.Itoa(d.Score)
	}
	return d.Action.String()
}

// cacheFresh reports whether the cache holds key and was written less than
// scoreRefresh ago.
func (o *op) cacheFresh(cache, key string) bool {
	fi, err := os.Stat(o.r.StatePath(cache))
	if err != nil {
		return false
	}
	if age := time.Since(fi.ModTime()); age < 0 || age >= scoreRefresh {
		return false
	}
	data, err := o.r.ReadState(cache)
	return err == nil && strings.TrimSpace(string(data)) == key
}

// removeScore deletes this node's promotion score (and forgets the
// cache), whatever the state says.
func (o *op) removeScore(ctx context.Context) {
	_ = o.r.RemoveState(o.scoreCacheName())
	if err := o.attributes(o.r).DeletePromotionScore(ctx, o.r.BaseInstance()); err != nil {
		o.r.Log.Errorf("removing the promotion score of %s: %v", o.cfg.resource, err)
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
