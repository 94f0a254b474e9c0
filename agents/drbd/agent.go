// Package drbd is ocf:paceline:drbd, a drop-in replacement for
// ocf:linbit:drbd: a promotable clone that brings a DRBD resource up and
// down, promotes and demotes it, and publishes promotion scores that never
// favour stale data. The state model, the score rules and the rules of the
// retrying actions are in pkg/drbd (imported here as drbdstate); this
// package runs the programs, waits and reports.
//
// One file per action: monitor.go, start.go, promote.go (promote and
// demote), stop.go, notify.go; loop.go runs the retrying actions' loops.
package drbd

import (
	"context"
	"os"
	"strings"
	"time"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
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
	actions := ocf.Actions(h((*op).start), h((*op).stop), h((*op).monitor), h((*op).validateAll))
	actions["promote"], actions["demote"] = h((*op).promote), h((*op).demote)
	actions["notify"], actions["reload"] = h((*op).notify), h((*op).reload)
	return &ocf.Agent{Meta: Metadata(), Handlers: actions}
}

// op is one action on one resource.
type op struct {
	*system
	r       *ocf.Request
	cfg     config
	module  module
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
		r.Log.Errorf("%v; using %q", o.cfg.adjustErr, drbdstate.DefaultAdjustString)
	}
	if o.module, err = s.readModule(); err != nil {
		return o, err
	}
	if r.Action == "stop" && !o.module.loaded {
		return o, nil
	}
	if _, err := s.lookPath("drbdsetup"); err != nil {
		return o, ocf.NotInstalled("drbdsetup not found: install drbd-utils")
	}
	if o.module.loaded {
		if err := o.cfg.checkVersion(o.module.version); err != nil {
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
	if !o.module.loaded && !o.moduleAvailable() {
		return ocf.NotInstalled("DRBD kernel module not available")
	}
	if err := checkClone(o.r.Meta, o.module.version); err != nil {
		return err
	}
	if o.r.Action != "validate-all" {
		if err := o.cfg.checkNotify(o.r); err != nil {
			return err
		}
	}
	if res := o.drbdadm(ctx, "sh-dev", o.cfg.resource); res.err != nil {
		if ctx.Err() != nil {
			return ocf.Generic("drbdadm sh-dev %s: %s", o.cfg.resource, res.msg())
		}
		return ocf.NotInstalled("resource %s is not in %s: %s", o.cfg.resource, o.cfg.drbdconf, res.msg())
	}
	if promotedMax(o.r.Meta) > 1 && (o.r.Action == "start" || o.r.Action == "promote" || o.r.Action == "validate-all") {
		res := o.drbdadm(ctx, "dump", o.cfg.resource)
		if res.err != nil {
			return ocf.Generic("drbdadm dump %s: %s", o.cfg.resource, res.msg())
		}
		if !drbdstate.AllowsTwoPrimaries(res.out) {
			return ocf.NotConfigured("promoted-max=%d but resource %s does not set allow-two-primaries", promotedMax(o.r.Meta), o.cfg.resource)
		}
	}
	return nil
}

// drbdadm runs drbdadm -c DRBDCONF ARGS.
func (o *op) drbdadm(ctx context.Context, args ...string) runResult {
	full := append([]string{"-c", o.cfg.drbdconf}, args...)
	res := o.run(ctx, o.handlerEnv(), "drbdadm", full...)
	if res.err != nil {
		o.r.Log.Debugf("drbdadm %s: exit %d: %s", strings.Join(full, " "), res.code, strings.TrimSpace(string(res.out)))
	}
	return res
}

// handlerEnv is what DRBD's handlers (fence-peer, unfence-peer) expect to
// find in drbdadm's environment.
func (o *op) handlerEnv() []string {
	return o.r.Environ("OCF_RESKEY_unfence_extra_args=" + o.cfg.unfenceExtraArgs)
}

// state reads the resource's state with one drbdsetup call; nil when the
// module is not loaded or the kernel does not know the resource.
func (o *op) state(ctx context.Context) (*drbdstate.Resource, error) {
	if !o.module.loaded {
		return nil, nil
	}
	res := o.run(ctx, o.r.Environ(), o.drbdsetupProgram(), "events2", "--now", o.cfg.resource)
	if res.err != nil && ctx.Err() != nil {
		return nil, ocf.Generic("drbdsetup events2 %s: %s", o.cfg.resource, res.msg())
	}
	st, err := drbdstate.ParseEvents2(res.out, o.cfg.resource)
	if err != nil {
		if res.err != nil {
			// The utilities refuse a resource the kernel does not know on
			// some versions instead of printing an empty list.
			if unknownResource(res.out) {
				return nil, nil
			}
			return nil, ocf.Generic("drbdsetup events2 %s: exit %d: %s", o.cfg.resource, res.code, res.msg())
		}
		return nil, ocf.Generic("drbdsetup events2 %s: %v", o.cfg.resource, err)
	}
	return st, nil
}

// drbdsetupProgram is the drbdsetup to run. drbd-utils 9 keep the 8.4
// tools in /lib/drbd and drbdsetup execs drbdsetup-84 for an 8.4 module;
// calling it directly saves that step on every monitor.
func (o *op) drbdsetupProgram() string {
	if o.module.version.Major == 8 && o.module.version.Minor == 4 {
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

func (o *op) validateAll(ctx context.Context) error { return o.validate(ctx) }

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
		return ocf.Generic("%s is not running: nothing to reload", o.cfg.resource)
	}
	if res := o.drbdadm(ctx, "adjust", o.cfg.resource); res.err != nil {
		return ocf.Generic("drbdadm adjust %s: %s", o.cfg.resource, res.msg())
	}
	if st, err = o.state(ctx); err != nil {
		return err
	}
	o.publish(ctx, st, true)
	return nil
}
