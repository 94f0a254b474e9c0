// Package drbd is ocf:paceline:drbd, a drop-in replacement for
// ocf:linbit:drbd: a promotable clone that brings a DRBD resource up and
// down, promotes and demotes it, and publishes promotion scores that never
// favour stale data. The state model and the score rules are in pkg/drbd.
package drbd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns ocf:paceline:drbd.
func Agent() *ocf.Agent {
	return agentOn(hostSystem())
}

func agentOn(s *system) *ocf.Agent {
	h := func(f func(*op, context.Context) error) ocf.Handler {
		return func(ctx context.Context, r *ocf.Request) error {
			o, err := s.newOp(r)
			if err != nil && r.Action != "stop" {
				return err
			}
			if err != nil {
				return s.stopRescue(ctx, r, o, err)
			}
			return f(o, ctx)
		}
	}
	return &ocf.Agent{
		Meta: Metadata(),
		Handlers: map[string]ocf.Handler{
			"start":        h((*op).start),
			"stop":         h((*op).stop),
			"promote":      h((*op).promote),
			"demote":       h((*op).demote),
			"notify":       h((*op).notify),
			"monitor":      h((*op).monitor),
			"reload":       h((*op).reload),
			"validate-all": h((*op).validateAll),
		},
	}
}

// op is one action on one resource.
type op struct {
	*system
	r       *ocf.Request
	cfg     config
	mod     module
	started time.Time
}

// newOp reads the parameters and the module, and checks what every
// action needs: the parameters, drbdsetup, and a loaded module of an
// accepted version. A module that is not loaded is not an error here, and
// a stop with the module not loaded needs nothing else: the resource
// cannot be running.
func (s *system) newOp(r *ocf.Request) (*op, error) {
	o := &op{system: s, r: r, started: time.Now()}
	var err error
	if o.cfg, err = configOf(r); err != nil {
		return o, err
	}
	if o.cfg.adjustErr != nil && r.Action != "monitor" {
		r.Log.Errorf("%v; using %q", o.cfg.adjustErr, drbd.DefaultAdjustString)
	}
	if o.mod, err = s.module(); err != nil {
		return o, err
	}
	if r.Action == "stop" && !o.mod.loaded {
		return o, nil
	}
	if _, err := s.lookPath("drbdsetup"); err != nil {
		return o, ocf.NotInstalled("drbdsetup not found: install drbd-utils")
	}
	if o.mod.loaded {
		if err := o.cfg.checkVersion(o.mod.version); err != nil {
			return o, err
		}
	}
	if r.Action != "stop" && r.Action != "monitor" {
		if _, err := s.lookPath("drbdadm"); err != nil {
			return o, ocf.NotInstalled("drbdadm not found: install drbd-utils")
		}
	}
	return o, nil
}

// validate is the full check of start, promote, demote, notify, reload
// and validate-all: the clone's meta attributes, notifications, the
// resource in the configuration, and allow-two-primaries when two may be
// promoted (on start and promote).
func (o *op) validate(ctx context.Context) error {
	if !o.mod.loaded && !o.moduleAvailable() {
		return ocf.NotInstalled("DRBD kernel module not available")
	}
	if err := checkClone(o.r.Meta, o.mod.version); err != nil {
		return err
	}
	if o.r.Action != "validate-all" {
		if err := o.cfg.checkNotify(o.r); err != nil {
			return err
		}
	}
	if res := o.adm(ctx, "sh-dev", o.cfg.res); res.err != nil {
		if ctx.Err() != nil {
			return ocf.Generic("drbdadm sh-dev %s: %s", o.cfg.res, res.msg())
		}
		return ocf.NotInstalled("resource %s is not in %s: %s", o.cfg.res, o.cfg.conf, res.msg())
	}
	if promotedMax(o.r.Meta) > 1 && (o.r.Action == "start" || o.r.Action == "promote" || o.r.Action == "validate-all") {
		res := o.adm(ctx, "dump", o.cfg.res)
		if res.err != nil {
			return ocf.Generic("drbdadm dump %s: %s", o.cfg.res, res.msg())
		}
		if !drbd.AllowsTwoPrimaries(res.out) {
			return ocf.NotConfigured("promoted-max=%d but resource %s does not set allow-two-primaries", promotedMax(o.r.Meta), o.cfg.res)
		}
	}
	return nil
}

// adm runs drbdadm -c CONF ARGS.
func (o *op) adm(ctx context.Context, args ...string) runResult {
	full := append([]string{"-c", o.cfg.conf}, args...)
	res := o.run(ctx, o.handlerEnv(), "drbdadm", full...)
	if res.err != nil {
		o.r.Log.Debugf("drbdadm %s: exit %d: %s", strings.Join(full, " "), res.code, strings.TrimSpace(string(res.out)))
	}
	return res
}

// handlerEnv is what DRBD's handlers (fence-peer, unfence-peer) expect to
// find in drbdadm's environment.
func (o *op) handlerEnv() []string {
	return o.r.Environ("OCF_RESKEY_unfence_extra_args=" + o.cfg.unfenceArgs)
}

// state reads the resource's state with one drbdsetup call; nil when the
// module is not loaded or the kernel does not know the resource.
func (o *op) state(ctx context.Context) (*drbd.Resource, error) {
	if !o.mod.loaded {
		return nil, nil
	}
	res := o.run(ctx, o.r.Environ(), o.drbdsetup(), "events2", "--now", o.cfg.res)
	if res.err != nil && ctx.Err() != nil {
		return nil, ocf.Generic("drbdsetup events2 %s: %s", o.cfg.res, res.msg())
	}
	st, err := drbd.ParseEvents2(res.out, o.cfg.res)
	if err != nil {
		if res.err != nil {
			// The utilities refuse a resource the kernel does not know on
			// some versions instead of printing an empty list.
			if unknownResource(res.out) {
				return nil, nil
			}
			return nil, ocf.Generic("drbdsetup events2 %s: exit %d: %s", o.cfg.res, res.code, res.msg())
		}
		return nil, ocf.Generic("drbdsetup events2 %s: %v", o.cfg.res, err)
	}
	return st, nil
}

// drbdsetup is the program that reads the state. drbd-utils 9 keep the
// 8.4 tools in /lib/drbd and drbdsetup execs drbdsetup-84 for an 8.4
// module; calling it directly saves that step on every monitor.
func (o *op) drbdsetup() string {
	if o.mod.version.Major == 8 && o.mod.version.Minor == 4 {
		if _, err := os.Stat(o.drbdsetup84); err == nil {
			return o.drbdsetup84
		}
	}
	return "drbdsetup"
}

func unknownResource(out []byte) bool {
	s := strings.ToLower(string(out))
	for _, w := range []string{"no such resource", "unknown resource"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// lastOr is the error of a loop whose state read failed: when the
// deadline passed after an attempt had failed, that attempt's message
// says more than the interrupted read.
func lastOr(ctx context.Context, err error, format, res, last string) error {
	if last != "" && ctx.Err() != nil {
		return ocf.Generic(format, res, last)
	}
	return err
}

// wait sleeps d or until ctx ends, whichever is first; false if ctx ended.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (o *op) validateAll(ctx context.Context) error { return o.validate(ctx) }

// monitor: 0 Secondary, 8 Primary, 9 Primary without reachable UpToDate
// data, 7 not running; the score is published unless a probe finds the
// resource stopped.
func (o *op) monitor(ctx context.Context) error {
	if !o.mod.loaded && !o.moduleAvailable() {
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
			return ocf.Stopped("%s has no volumes", o.cfg.res)
		}
		return ocf.Stopped("%s is not running", o.cfg.res)
	}
	// A probe that finds it running always writes: the attribute may be
	// gone (Pacemaker restarted, node rejoined) while the cache is not.
	o.publish(ctx, st, o.r.Probe)
	if st.IsPrimary() {
		if st.QuorumLost() {
			return &ocf.Error{Code: ocf.FailedPromoted, Reason: o.cfg.res + " is Primary and has lost quorum"}
		}
		if bad := st.NoUpToDateData(); len(bad) > 0 {
			return &ocf.Error{Code: ocf.FailedPromoted, Reason: fmt.Sprintf(
				"%s is Primary without UpToDate data on volume %v: %s", o.cfg.res, bad, st.Summary())}
		}
		return ocf.Result(ocf.RunningPromoted)
	}
	return nil
}

// start brings the resource up (or adjusts it to the configuration),
// waits for the peers as configured and publishes the score.
func (o *op) start(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	if !o.mod.loaded {
		if err := o.loadModule(ctx); err != nil {
			return err
		}
		// The instance limits depend on the module's version.
		if err := checkClone(o.r.Meta, o.mod.version); err != nil {
			return err
		}
	}
	st, err := o.state(ctx)
	if err != nil {
		return err
	}
	var res runResult
	switch {
	case !st.Configured() && o.cfg.connectAfterPromot:
		res = o.adm(ctx, "adjust", "--skip-net", o.cfg.res)
	case !st.Configured():
		res = o.adm(ctx, "up", o.cfg.res)
	case o.cfg.connectAfterPromot:
		res = o.adm(ctx, "adjust", "--skip-net", o.cfg.res)
	default:
		res = o.adm(ctx, "adjust", o.cfg.res)
	}
	if res.err != nil {
		// adjust fails for reasons that leave the resource usable (a
		// peer not answering); the state below decides.
		o.r.Log.Warnf("drbdadm up/adjust %s: %s", o.cfg.res, res.msg())
	}
	if st, err = o.state(ctx); err != nil {
		return err
	}
	if !st.Configured() {
		return ocf.Generic("%s did not come up: %s", o.cfg.res, res.msg())
	}
	if st.IsPrimary() {
		o.r.Log.Warnf("%s was Primary at start: demoting it", o.cfg.res)
		if res := o.adm(ctx, "secondary", o.cfg.res); res.err != nil {
			return ocf.Generic("%s is Primary at start and cannot be demoted: %s", o.cfg.res, res.msg())
		}
		if st, err = o.state(ctx); err != nil {
			return err
		}
	}
	if !st.Usable() {
		return ocf.Generic("%s came up without volumes: %s", o.cfg.res, res.msg())
	}
	for _, v := range st.Volumes {
		if v.Disk == drbd.Diskless && !v.Client || v.Disk == drbd.Failed {
			return ocf.Generic("%s volume %d has no disk (%s) after start: %s", o.cfg.res, v.Number, v.Disk, res.msg())
		}
	}
	if o.cfg.wfc > 0 && !o.cfg.connectAfterPromot {
		st = o.waitConnected(ctx, st)
	}
	o.publish(ctx, st, true)
	return nil
}

// loadModule loads drbd with the parameters the configuration asks for.
func (o *op) loadModule(ctx context.Context) error {
	args := []string{"-s", "drbd"}
	if res := o.adm(ctx, "sh-mod-parms"); res.err == nil {
		args = append(args, strings.Fields(string(res.out))...)
	}
	if res := o.run(ctx, o.r.Environ(), "modprobe", args...); res.err != nil {
		return ocf.NotInstalled("modprobe drbd: %s", res.msg())
	}
	m, err := o.module()
	if err != nil {
		return err
	}
	if !m.loaded {
		return ocf.NotInstalled("modprobe drbd succeeded but /proc/drbd is missing")
	}
	o.mod = m
	return o.cfg.checkVersion(m.version)
}

// waitConnected polls until every peer is connected, for wfc_timeout at
// most (and never past the operation's deadline). Not connecting is only
// logged: the peer may not be started yet.
func (o *op) waitConnected(ctx context.Context, st *drbd.Resource) *drbd.Resource {
	begin := time.Now()
	end := begin.Add(o.cfg.wfc)
	for {
		all := len(st.Peers) > 0
		for _, p := range st.Peers {
			all = all && p.Connection == drbd.Connected
		}
		if all {
			return st
		}
		if time.Now().After(end) || !wait(ctx, 200*time.Millisecond) {
			o.r.Log.Infof("%s: peers not connected after %v: %s", o.cfg.res, time.Since(begin).Round(time.Millisecond), st.Summary())
			return st
		}
		next, err := o.state(ctx)
		if err != nil || next == nil {
			return st
		}
		st = next
	}
}

// stop demotes and takes the resource down, then outdates the local data
// when asked to and removes the score. It retries until the deadline.
func (o *op) stop(ctx context.Context) error {
	var last string
	for {
		st, err := o.state(ctx)
		if err != nil {
			return lastOr(ctx, err, "%s could not be stopped: %s", o.cfg.res, last)
		}
		if !st.Configured() {
			break
		}
		res := o.stepDown(ctx, st)
		if res.err == nil {
			wait(ctx, settle)
			continue
		}
		last = res.msg()
		o.r.Log.Warnf("stop %s (%s): %s", o.cfg.res, st.Summary(), last)
		if !wait(ctx, o.pause) {
			return ocf.Generic("%s could not be stopped: %s", o.cfg.res, last)
		}
	}
	if o.cfg.stopOutdates {
		o.maybeOutdateSelf(ctx, nil)
	}
	o.publish(ctx, nil, true)
	return nil
}

// settle is the pause after a state change that worked, before the state
// is read again (so that a loop never spins, whatever DRBD does next).
const settle = 100 * time.Millisecond

// stepDown demotes a Primary or takes a Secondary down with drbdadm. When
// drbdadm fails for want of a configuration (the resource was removed
// from it, drbdconf is unreadable, drbdadm is missing), drbdsetup does the
// same from what the kernel has: a stop must not fail, and get the node
// fenced, for a configuration problem.
func (o *op) stepDown(ctx context.Context, st *drbd.Resource) runResult {
	sub := "down"
	if st.IsPrimary() {
		sub = "secondary"
	}
	res := o.adm(ctx, sub, o.cfg.res)
	if res.err == nil || ctx.Err() != nil {
		return res
	}
	var alt runResult
	switch {
	case sub == "down":
		alt = o.run(ctx, o.r.Environ(), o.drbdsetup(), "down", o.cfg.res)
	case o.mod.version.Major == 8: // 8.4 demotes by minor
		for _, v := range st.Volumes {
			if alt = o.run(ctx, o.r.Environ(), o.drbdsetup(), "secondary", strconv.Itoa(v.Minor)); alt.err != nil {
				break
			}
		}
	default:
		alt = o.run(ctx, o.r.Environ(), o.drbdsetup(), "secondary", o.cfg.res)
	}
	if alt.err != nil {
		return res
	}
	o.r.Log.Warnf("drbdadm %s %s failed (%s); drbdsetup did it", sub, o.cfg.res, res.msg())
	return alt
}

// stopRescue is stop when the parameters or the module fail the checks:
// as upstream, try drbdsetup down, so that a configuration error does not
// get the node fenced.
func (s *system) stopRescue(ctx context.Context, r *ocf.Request, o *op, cause error) error {
	if o == nil || !nameOK(o.cfg.res) {
		return cause
	}
	// Nothing can be running without the module, or when the kernel does
	// not know the resource.
	if m, err := s.module(); err == nil && !m.loaded {
		o.removeScore(ctx)
		return nil
	} else if err == nil {
		o.mod = m
		if st, err := o.state(ctx); err == nil && !st.Configured() {
			o.removeScore(ctx)
			return nil
		}
	}
	res := s.run(ctx, r.Environ(), o.drbdsetup(), "down", o.cfg.res)
	if res.err != nil {
		return ocf.Generic("%v; drbdsetup down %s failed too: %s", ocf.ReasonOf(cause), o.cfg.res, res.msg())
	}
	r.Log.Warnf("stopped %s with drbdsetup down despite: %v", o.cfg.res, ocf.ReasonOf(cause))
	o.removeScore(ctx)
	return nil
}

// promoteAttempts bounds drbdadm primary calls per promote.
const promoteAttempts = 5

// promote makes this node Primary, with at most promoteAttempts drbdadm
// primary calls. It refuses, with the reason, stale data (mayPromote) and
// a peer that stays Primary while only one may be; DRBD's own refusal
// (exit 17) is final too.
func (o *op) promote(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	var last string
	attempt := 0
	for {
		st, err := o.state(ctx)
		if err != nil {
			return lastOr(ctx, err, "%s: promotion not done in time: %s", o.cfg.res, last)
		}
		if !st.Usable() {
			return ocf.Generic("%s is not running: cannot promote", o.cfg.res)
		}
		if st.IsPrimary() {
			break
		}
		if peer := o.primaryPeer(st); peer != "" {
			// The peer may be demoting right now (a switchover whose
			// demote this node has not seen yet): look again for a
			// while, then give up and take this node out of the
			// running, as upstream's fail_promote_early does.
			if time.Since(o.started) < o.peerPrimaryGrace && wait(ctx, o.pause) {
				continue
			}
			o.removeScore(ctx)
			return ocf.Generic("refusing to promote %s: %s is Primary and promoted-max is 1", o.cfg.res, peer)
		}
		if err := o.mayPromote(st); err != nil {
			return err
		}
		if attempt == promoteAttempts {
			return ocf.Generic("%s: promotion failed %d times: %s", o.cfg.res, promoteAttempts, last)
		}
		attempt++
		res := o.adm(ctx, "primary", o.cfg.res)
		if res.err == nil {
			wait(ctx, settle)
			continue // read the state again
		}
		last = res.msg()
		if res.code == 17 {
			return ocf.Generic("DRBD refuses to promote %s: %s", o.cfg.res, last)
		}
		o.r.Log.Warnf("promote %s, attempt %d: %s", o.cfg.res, attempt, last)
		if !wait(ctx, o.pause) {
			return ocf.Generic("%s: promotion not done in time: %s", o.cfg.res, last)
		}
	}
	if o.cfg.connectAfterPromot {
		if res := o.adm(ctx, "adjust", o.cfg.res); res.err != nil {
			o.r.Log.Warnf("adjust %s after promotion: %s", o.cfg.res, res.msg())
		}
	}
	st, err := o.state(ctx)
	if err != nil {
		return err
	}
	o.publish(ctx, st, true)
	return nil
}

// primaryPeer names a Primary peer when only one Primary is allowed, or
// returns "".
func (o *op) primaryPeer(st *drbd.Resource) string {
	peer := st.PeerPrimary()
	if peer == "" || promotedMax(o.r.Meta) >= 2 {
		return ""
	}
	if peer == "peer" { // DRBD 8.4 names every peer "peer"
		return "the peer"
	}
	return "peer " + peer
}

// mayPromote refuses stale data: a volume whose data is UpToDate neither
// here nor on a connected peer (DRBD serves a volume that is Inconsistent
// here, during a resync, from an UpToDate peer; that data is current).
func (o *op) mayPromote(st *drbd.Resource) error {
	for _, n := range st.NoUpToDateData() {
		disk := drbd.DiskState("")
		for _, v := range st.Volumes {
			if v.Number == n {
				disk = v.Disk
			}
		}
		return ocf.Generic("refusing to promote %s: volume %d is %s, not UpToDate, and no connected peer is (%s)",
			o.cfg.res, n, disk, st.Summary())
	}
	return nil
}

// demote makes this node Secondary, retrying until the deadline (the
// device may be held open for a moment after its user stopped).
func (o *op) demote(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	var last string
	for {
		st, err := o.state(ctx)
		if err != nil {
			return lastOr(ctx, err, "%s could not be demoted: %s", o.cfg.res, last)
		}
		if !st.Configured() {
			return ocf.Stopped("%s is not running", o.cfg.res)
		}
		if !st.IsPrimary() {
			o.publish(ctx, st, true)
			return nil
		}
		res := o.adm(ctx, "secondary", o.cfg.res)
		if res.err == nil {
			wait(ctx, settle)
			continue
		}
		last = res.msg()
		o.r.Log.Warnf("demote %s: %s", o.cfg.res, last)
		if !wait(ctx, o.pause) {
			return ocf.Generic("%s could not be demoted: %s", o.cfg.res, last)
		}
	}
}

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
	if n.Operation == "start" && !o.cfg.connectAfterPromot && st.Configured() {
		if res := o.adm(ctx, "-v", "adjust", o.cfg.res); res.err != nil {
			o.r.Log.Warnf("adjust %s for a starting peer: %s", o.cfg.res, res.msg())
		}
	}
	if n.Type == "post" && st.Configured() {
		if st, err = o.state(ctx); err != nil {
			o.r.Log.Warnf("notify %s-%s: %v", n.Type, n.Operation, err)
			return nil
		}
		if o.cfg.stopOutdates && st.AnyPeerDiskUnknown() && o.maybeOutdateSelf(ctx, st) {
			if st, err = o.state(ctx); err != nil {
				o.r.Log.Warnf("notify %s-%s: %v", n.Type, n.Operation, err)
				return nil
			}
		}
		o.publish(ctx, st, true)
	}
	return nil
}

// maybeOutdateSelf marks the local data Outdated when another node is
// promoted and this one is not (stop_outdates_secondary); true when it
// did.
func (o *op) maybeOutdateSelf(ctx context.Context, st *drbd.Resource) bool {
	me := nodeName(o.r)
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
		o.r.Log.Errorf("%s is Primary here and on %s: DRBD split brain", o.cfg.res, other)
		return false
	}
	if res := o.adm(ctx, "outdate", o.cfg.res); res.err != nil {
		o.r.Log.Warnf("outdate %s (%s is Primary): %s", o.cfg.res, other, res.msg())
		return false
	}
	o.r.Log.Infof("outdated %s: %s is Primary", o.cfg.res, other)
	return true
}

// reload applies configuration changes to a running resource.
func (o *op) reload(ctx context.Context) error {
	if err := o.validate(ctx); err != nil {
		return err
	}
	st, err := o.state(ctx)
	if err != nil {
		return err
	}
	if !st.Configured() {
		return ocf.Generic("%s is not running: nothing to reload", o.cfg.res)
	}
	if res := o.adm(ctx, "adjust", o.cfg.res); res.err != nil {
		return ocf.Generic("drbdadm adjust %s: %s", o.cfg.res, res.msg())
	}
	if st, err = o.state(ctx); err != nil {
		return err
	}
	o.publish(ctx, st, true)
	return nil
}
