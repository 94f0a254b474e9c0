package drbd

import (
	"strings"
	"time"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// config is the resource's parameters, checked.
type config struct {
	resource              string // drbd_resource
	drbdconf              string
	adjust                drbdstate.Adjust // adjust_master_score
	adjustErr             error            // logged; the default is used
	stopOutdatesSecondary bool
	ignoreMissingNotify   bool          // ignore_missing_notifications
	connectTimeout        time.Duration // wfc_timeout; 0: start does not wait for the peers
	ifPeerPrimary         peerPrimaryPolicy
	unfenceIfAllUpToDate  bool
	unfenceExtraArgs      string
	// requireGE and requireLT are require_drbd_module_version_ge and _lt;
	// zero: no check.
	requireGE, requireLT    drbdstate.Version
	connectOnlyAfterPromote bool
}

// peerPrimaryPolicy is remove_master_score_if_peer_primary: what a
// Secondary connected to a Primary peer with UpToDate data does with its
// own promotion score.
type peerPrimaryPolicy int

const (
	keepScoreIfPeerPrimary         peerPrimaryPolicy = iota // false
	removeScoreIfPeerPrimary                                // true
	removeScoreIfUnexpectedPrimary                          // unexpected: when Pacemaker knows of no promoted instance
)

// validName is upstream's whitelist for resource names and the config
// path: letters, digits and - % + . / : = @ _.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-%+./:=@_", c):
		default:
			return false
		}
	}
	return true
}

// configOf reads and checks the parameters. Errors are "not configured"
// (6), as upstream's.
func configOf(r *ocf.Request) (config, error) {
	c := config{
		resource: r.Param("drbd_resource"),
		drbdconf: r.Param("drbdconf"),
	}
	if c.resource == "" {
		return c, ocf.NotConfigured("drbd_resource is not set")
	}
	if !validName(c.resource) {
		return c, ocf.NotConfigured("drbd_resource=%q has characters other than letters, digits and -%%+./:=@_", c.resource)
	}
	if c.drbdconf == "" {
		c.drbdconf = "/etc/drbd.conf" // as upstream: empty is the default
	}
	if !validName(c.drbdconf) {
		return c, ocf.NotConfigured("drbdconf=%q has characters other than letters, digits and -%%+./:=@_", c.drbdconf)
	}
	c.adjust, c.adjustErr = drbdstate.ParseAdjust(r.Param("adjust_master_score"))
	c.stopOutdatesSecondary = r.Bool("stop_outdates_secondary")
	c.ignoreMissingNotify = r.Bool("ignore_missing_notifications")
	// As upstream, a wfc_timeout that is empty, not a number or not
	// positive is no error: start does not wait.
	if n, err := r.IntIn("wfc_timeout", 1, ocf.MaxInt); err == nil {
		c.connectTimeout = time.Duration(n) * time.Second
	}
	switch v := strings.ToLower(strings.TrimSpace(r.Param("remove_master_score_if_peer_primary"))); {
	case v == "unexpected":
		c.ifPeerPrimary = removeScoreIfUnexpectedPrimary
	case ocf.IsTrue(v):
		c.ifPeerPrimary = removeScoreIfPeerPrimary
	case v == "" || ocf.IsBool(v):
		c.ifPeerPrimary = keepScoreIfPeerPrimary
	default: // as upstream: anything else is false
		r.Log.Warnf("remove_master_score_if_peer_primary=%q is not true, false or unexpected: taken as false", v)
		c.ifPeerPrimary = keepScoreIfPeerPrimary
	}
	c.unfenceIfAllUpToDate = r.Bool("unfence_if_all_uptodate")
	c.unfenceExtraArgs = r.Param("unfence_extra_args")
	c.connectOnlyAfterPromote = r.Bool("connect_only_after_promote")
	for _, p := range []struct {
		name string
		dst  *drbdstate.Version
	}{{"require_drbd_module_version_ge", &c.requireGE}, {"require_drbd_module_version_lt", &c.requireLT}} {
		v := strings.TrimSpace(r.Param(p.name))
		if v == "" {
			continue
		}
		ver, err := drbdstate.ParseVersion(v)
		if err != nil {
			return c, ocf.NotConfigured("%s: %v", p.name, err)
		}
		*p.dst = ver
	}
	return c, nil
}

// checkVersion applies the module version requirements: "not installed"
// (5) when they are not met.
func (c config) checkVersion(v drbdstate.Version) error {
	if !c.requireGE.IsZero() && v.Less(c.requireGE) {
		return ocf.NotInstalled("DRBD module %s is older than require_drbd_module_version_ge=%s", v, c.requireGE)
	}
	if !c.requireLT.IsZero() && !v.Less(c.requireLT) {
		return ocf.NotInstalled("DRBD module %s is not older than require_drbd_module_version_lt=%s", v, c.requireLT)
	}
	return nil
}

// checkClone applies upstream's limits on the clone's meta attributes
// (every action but stop): one instance per node, one promoted instance
// per node, at most two promoted instances, and at most two instances when
// the module is 8.4 (which has one peer) or two may be promoted. A
// resource that is not a clone at all is refused too.
func checkClone(m ocf.Meta, v drbdstate.Version) error {
	cloneNodeMax := m.CloneNodeMax
	if cloneNodeMax == 0 {
		cloneNodeMax = 1
	}
	promotedMax := m.PromotedMax
	if promotedMax == 0 {
		promotedMax = 1
	}
	promotedNodeMax := m.PromotedNodeMax
	if promotedNodeMax == 0 {
		promotedNodeMax = 1
	}
	switch {
	case m.CloneMax <= 0:
		return ocf.NotConfigured("drbd must run as a promotable clone: clone-max is not set")
	case cloneNodeMax != 1:
		return ocf.NotConfigured("clone-node-max=%d: must be 1", cloneNodeMax)
	case promotedNodeMax != 1:
		return ocf.NotConfigured("promoted-node-max=%d: must be 1", promotedNodeMax)
	case promotedMax > 2:
		return ocf.NotConfigured("promoted-max=%d: DRBD allows at most 2 Primaries", promotedMax)
	case m.CloneMax > 2 && promotedMax == 2:
		return ocf.NotConfigured("clone-max=%d with promoted-max=2: at most 2 instances with two Primaries", m.CloneMax)
	case m.CloneMax > 2 && v.Major > 0 && v.Major < 9:
		return ocf.NotConfigured("clone-max=%d: DRBD %s has one peer, at most 2 instances", m.CloneMax, v)
	}
	return nil
}

// checkNotify refuses a clone without notifications (every action but
// stop, monitor and validate-all), unless ignore_missing_notifications.
func (c config) checkNotify(r *ocf.Request) error {
	if c.ignoreMissingNotify || r.Meta.NotifyEnabled {
		return nil
	}
	if _, ok := r.Meta.Raw["notify_start_uname"]; ok {
		return nil
	}
	return ocf.NotConfigured("the clone needs notify=true (or ignore_missing_notifications=true)")
}

// promotedMax is the clone's promoted-max, 1 when unset.
func promotedMax(m ocf.Meta) int {
	if m.PromotedMax > 0 {
		return m.PromotedMax
	}
	return 1
}
