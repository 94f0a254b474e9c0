package drbd

import (
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// config is the resource's parameters, checked.
type config struct {
	res, conf          string
	adjust             drbd.Adjust
	adjustErr          error // logged; the default is used
	stopOutdates       bool
	ignoreNoNotify     bool
	wfc                time.Duration // 0: do not wait
	removeIfPeerPrim   string        // "true", "false" or "unexpected"
	unfence            bool
	unfenceArgs        string
	verGE, verLT       drbd.Version // zero: no check
	connectAfterPromot bool
}

// nameOK is upstream's whitelist for resource names and the config path:
// letters, digits and - % + . / : = @ _.
func nameOK(s string) bool {
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
		res:  r.Param("drbd_resource"),
		conf: r.Param("drbdconf"),
	}
	if c.res == "" {
		return c, ocf.NotConfigured("drbd_resource is not set")
	}
	if !nameOK(c.res) {
		return c, ocf.NotConfigured("drbd_resource=%q has characters other than letters, digits and -%%+./:=@_", c.res)
	}
	if c.conf == "" {
		c.conf = "/etc/drbd.conf" // as upstream: empty is the default
	}
	if !nameOK(c.conf) {
		return c, ocf.NotConfigured("drbdconf=%q has characters other than letters, digits and -%%+./:=@_", c.conf)
	}
	c.adjust, c.adjustErr = drbd.ParseAdjust(r.Param("adjust_master_score"))
	c.stopOutdates = r.Bool("stop_outdates_secondary")
	c.ignoreNoNotify = r.Bool("ignore_missing_notifications")
	if w := strings.TrimSpace(r.Param("wfc_timeout")); w != "" {
		if n, err := strconv.Atoi(w); err == nil && n > 0 {
			c.wfc = time.Duration(n) * time.Second
		}
	}
	switch v := strings.ToLower(strings.TrimSpace(r.Param("remove_master_score_if_peer_primary"))); {
	case v == "unexpected":
		c.removeIfPeerPrim = v
	case ocf.IsTrue(v):
		c.removeIfPeerPrim = "true"
	case v == "" || ocf.IsBool(v):
		c.removeIfPeerPrim = "false"
	default: // as upstream: anything else is false
		r.Log.Warnf("remove_master_score_if_peer_primary=%q is not true, false or unexpected: taken as false", v)
		c.removeIfPeerPrim = "false"
	}
	c.unfence = r.Bool("unfence_if_all_uptodate")
	c.unfenceArgs = r.Param("unfence_extra_args")
	c.connectAfterPromot = r.Bool("connect_only_after_promote")
	for _, p := range []struct {
		name string
		dst  *drbd.Version
	}{{"require_drbd_module_version_ge", &c.verGE}, {"require_drbd_module_version_lt", &c.verLT}} {
		v := strings.TrimSpace(r.Param(p.name))
		if v == "" {
			continue
		}
		ver, err := drbd.ParseVersion(v)
		if err != nil {
			return c, ocf.NotConfigured("%s: %v", p.name, err)
		}
		*p.dst = ver
	}
	return c, nil
}

// checkVersion applies the module version requirements: "not installed"
// (5) when they are not met.
func (c config) checkVersion(v drbd.Version) error {
	if !c.verGE.IsZero() && v.Less(c.verGE) {
		return ocf.NotInstalled("DRBD module %s is older than require_drbd_module_version_ge=%s", v, c.verGE)
	}
	if !c.verLT.IsZero() && !v.Less(c.verLT) {
		return ocf.NotInstalled("DRBD module %s is not older than require_drbd_module_version_lt=%s", v, c.verLT)
	}
	return nil
}

// checkClone applies upstream's limits on the clone's meta attributes
// (every action but stop): one instance per node, one promoted instance
// per node, at most two promoted instances, and at most two instances when
// the module is 8.4 (which has one peer) or two may be promoted. A
// resource that is not a clone at all is refused too.
func checkClone(m ocf.Meta, v drbd.Version) error {
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
	if c.ignoreNoNotify || r.Meta.NotifyEnabled {
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
