package drbd

import (
	"fmt"
	"strconv"
	"strings"
)

// Adjust is adjust_master_score: the four scores a node gets for the four
// kinds of data it can offer, in the upstream order.
type Adjust struct {
	OnlyConsistent int // only Consistent data (not known to be current)
	OnlyRemote     int // no UpToDate disk here, but a connected peer has one
	LocalOK        int // UpToDate here, Secondary, some peer's disk unknown
	Best           int // UpToDate here, and Primary or every peer's disk known
}

// DefaultAdjust is upstream's default, "0 10 1000 10000".
var DefaultAdjust = Adjust{0, 10, 1000, 10000}

// DefaultAdjustString is DefaultAdjust as the parameter is written.
const DefaultAdjustString = "0 10 1000 10000"

// ParseAdjust reads adjust_master_score: exactly four non-negative
// integers in non-decreasing order.
func ParseAdjust(s string) (Adjust, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return DefaultAdjust, fmt.Errorf("adjust_master_score=%q: need exactly 4 numbers, found %d", s, len(f))
	}
	var n [4]int
	for i, w := range f {
		v, err := strconv.Atoi(w)
		if err != nil || v < 0 {
			return DefaultAdjust, fmt.Errorf("adjust_master_score=%q: %q is not a non-negative integer", s, w)
		}
		if i > 0 && v < n[i-1] {
			return DefaultAdjust, fmt.Errorf("adjust_master_score=%q: the scores must not decrease", s)
		}
		n[i] = v
	}
	return Adjust{n[0], n[1], n[2], n[3]}, nil
}

// ScoreAction is what to do with this node's promotion score.
type ScoreAction int

// Score actions.
const (
	Keep   ScoreAction = iota // leave the attribute as it is (a transient state)
	Set                       // set it to Decision.Score
	Remove                    // delete it: this node must not be promoted
)

func (a ScoreAction) String() string {
	switch a {
	case Set:
		return "set"
	case Remove:
		return "remove"
	}
	return "keep"
}

// Decision is a promotion score decision and why it was made.
type Decision struct {
	Action ScoreAction
	Score  int // for Set
	Reason string
}

func (d Decision) String() string {
	if d.Action == Set {
		return fmt.Sprintf("set %d (%s)", d.Score, d.Reason)
	}
	return fmt.Sprintf("%s (%s)", d.Action, d.Reason)
}

// ScoreOptions are the parameters that change the decision besides
// adjust_master_score.
type ScoreOptions struct {
	// RemoveIfPeerPrimary is remove_master_score_if_peer_primary, already
	// resolved for "unexpected" (true when it applies).
	RemoveIfPeerPrimary bool
}

// Promotion decides this node's promotion score from its state (nil: the
// resource is not configured in the kernel, or the module is not
// loaded), following the rules of ocf:linbit:drbd, in their order:
//
//  1. not running: remove (upstream set 9999 here on recurring monitors);
//  2. DRBD 9 quorum lost: remove;
//  3. RemoveIfPeerPrimary, Secondary, a peer Primary and a peer with all
//     data UpToDate: remove;
//  4. a diskless client: 9999 as Primary with a peer all UpToDate or with
//     every peer all UpToDate, 999 with some peer all UpToDate, else remove;
//  5. every local disk UpToDate: Best as Primary; LocalOK as Secondary
//     when a peer's disk is unknown; Best otherwise;
//  6. a connected peer has all the data UpToDate: OnlyRemote;
//  7. a local disk attaching or negotiating: keep (it settles soon; DRBD
//     9 upstream counted it UpToDate and gave LocalOK);
//  8. every local disk Consistent: OnlyConsistent;
//  9. anything else (Inconsistent, Outdated, Failed, Diskless without a
//     good peer): remove. Never a negative score.
//
// A score of 0 or less is a removal.
func Promotion(r *Resource, adj Adjust, opt ScoreOptions) Decision {
	set := func(score int, why string) Decision {
		if score <= 0 {
			return Decision{Action: Remove, Reason: why + ", score 0"}
		}
		return Decision{Action: Set, Score: score, Reason: why}
	}
	switch {
	case !r.Configured():
		return Decision{Action: Remove, Reason: "not running"}
	case !r.Usable():
		return Decision{Action: Remove, Reason: "no volumes"}
	case r.QuorumLost():
		return Decision{Action: Remove, Reason: "quorum lost"}
	case opt.RemoveIfPeerPrimary && !r.IsPrimary() && r.PeerPrimary() != "" && r.SomePeerAllUpToDate():
		return Decision{Action: Remove, Reason: "peer " + r.PeerPrimary() + " is Primary with UpToDate data"}
	case r.DisklessClient():
		switch {
		case r.IsPrimary() && r.SomePeerAllUpToDate(), r.AllPeersAllUpToDate():
			return set(9999, "diskless client, UpToDate peers")
		case r.SomePeerAllUpToDate():
			return set(999, "diskless client, an UpToDate peer")
		}
		return Decision{Action: Remove, Reason: "diskless client without an UpToDate peer"}
	case r.AllLocalUpToDate():
		switch {
		case r.IsPrimary():
			return set(adj.Best, "Primary, UpToDate")
		case r.AnyPeerDiskUnknown():
			return set(adj.LocalOK, "UpToDate, peer disk unknown")
		}
		return set(adj.Best, "UpToDate, peers known")
	case r.SomePeerAllUpToDate():
		return set(adj.OnlyRemote, "only a peer is UpToDate")
	case r.Transitional():
		return Decision{Action: Keep, Reason: "disk " + r.diskList() + " is settling"}
	case r.AllLocalConsistent():
		return set(adj.OnlyConsistent, "only Consistent data")
	}
	return Decision{Action: Remove, Reason: "no UpToDate data (disk " + r.diskList() + ")"}
}

func (r *Resource) diskList() string {
	s := make([]string, len(r.Volumes))
	for i, v := range r.Volumes {
		s[i] = string(v.Disk)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "/")
}
