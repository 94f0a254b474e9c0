package drbd

import (
	"context"
	"time"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// drive runs one of the retrying actions (promote, demote, stop) until
// its rules say the goal is reached, and returns the state read last; or
// until they give up, and returns the error that ends the action. Each
// round reads the state, asks the rules what to do, and does it: run a
// drbdadm command (and drbdsetup's fall-back when the rules ask for it),
// wait, or end.
func (o *op) drive(ctx context.Context, rules drbdstate.LoopRules) (*drbdstate.Resource, error) {
	var h drbdstate.History
	for {
		st, err := o.state(ctx)
		h.Elapsed, h.OutOfTime = time.Since(o.started), ctx.Err() != nil
		var step drbdstate.Step
		if err != nil {
			step = rules.AfterReadError(h)
		} else {
			step = rules.Next(st, h)
		}
		if step.Kind == drbdstate.StepRun {
			step = o.runStep(ctx, rules, st, &h, step.Command)
		}
		if step.Warning != "" {
			o.r.Log.Warnf("%s", step.Warning)
		}
		switch step.Kind {
		case drbdstate.StepDone:
			return st, nil
		case drbdstate.StepReadError:
			return nil, err
		case drbdstate.StepNotRunning:
			return nil, ocf.Stopped("%s", step.Reason)
		case drbdstate.StepFail:
			return nil, o.giveUp(ctx, step)
		case drbdstate.StepWait:
			if !ocf.Sleep(ctx, step.Wait) && step.GiveUpIfCut {
				return nil, o.giveUp(ctx, step)
			}
		}
	}
}

// runStep runs drbdadm command on the resource for a StepRun taken on the
// state st, and drbdsetup's fall-back when the rules ask for it; it
// records the outcome in h and returns the rules' next step.
func (o *op) runStep(ctx context.Context, rules drbdstate.LoopRules, st *drbdstate.Resource, h *drbdstate.History,
	command string) drbdstate.Step {
	h.Attempts++
	res := o.drbdadm(ctx, command, o.cfg.resource)
	ran := drbdstate.Ran{Command: command, Failed: res.err != nil, Code: res.code, Message: res.msg()}
	h.OutOfTime = ctx.Err() != nil
	next := rules.AfterRun(st, *h, ran)
	if next.Kind == drbdstate.StepFallBack {
		ran.FallBack = o.drbdsetupInstead(ctx, next.FallBack)
		next = rules.AfterRun(st, *h, ran)
	}
	if !ran.Worked() {
		h.LastFailure = ran.Message
	}
	return next
}

// drbdsetupInstead runs drbdsetup with each argument list in turn, until
// one fails.
func (o *op) drbdsetupInstead(ctx context.Context, commands [][]string) drbdstate.FallBackResult {
	for _, args := range commands {
		if res := o.run(ctx, o.r.Environ(), o.drbdsetupProgram(), args...); res.err != nil {
			return drbdstate.FallBackFailed
		}
	}
	return drbdstate.FallBackWorked
}

// giveUp ends a loop with the reason of its failing step, taking this
// node's promotion score away first when the step says so.
func (o *op) giveUp(ctx context.Context, step drbdstate.Step) error {
	if step.RemoveScore {
		if ctx.Err() != nil {
			// The deadline cut the wait short, and a helper run on an
			// ended context is killed at once: the score must still go,
			// or Pacemaker promotes here again. Half the margin the
			// budget keeps before Pacemaker's timeout is enough for one
			// crm_attribute.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), ocf.Margin(o.r.Timeout)/2)
			defer cancel()
		}
		o.removeScore(ctx)
	}
	return ocf.Generic("%s", step.Reason)
}
