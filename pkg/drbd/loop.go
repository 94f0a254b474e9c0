package drbd

import (
	"fmt"
	"strconv"
	"time"
)

// The rules of the agent's three retrying actions. promote, demote and
// stop each loop the same way: read the state, ask their rules (Next)
// what to do, do it, and when that was a command, tell the rules how it
// went (AfterRun) and do what they say then. The rules decide; the agent
// runs drbdadm and drbdsetup and waits.

// PromoteAttempts bounds the drbdadm primary calls of one promote.
const PromoteAttempts = 5

// Settle is the pause after a command that worked, before the state is
// read again, so that a loop never spins whatever DRBD does next.
const Settle = 100 * time.Millisecond

// StepKind is what a loop does next.
type StepKind int

// Step kinds.
const (
	// StepDone: the goal is reached; the loop ends well with the state it
	// read last.
	StepDone StepKind = iota
	// StepRun: run drbdadm Step.Command on the resource, then ask AfterRun.
	StepRun
	// StepFallBack: drbdadm failed for want of a configuration, maybe; run
	// the drbdsetup commands of Step.FallBack in turn, stopping at the
	// first that fails, then ask AfterRun again with Ran.FallBack set.
	StepFallBack
	// StepWait: wait Step.Wait, then read the state again. With
	// Step.GiveUpIfCut, a wait the deadline cuts short ends the action as
	// StepFail would.
	StepWait
	// StepFail: the action fails (generic error) with Step.Reason.
	StepFail
	// StepNotRunning: the action ends "not running" with Step.Reason.
	StepNotRunning
	// StepReadError: the action fails with the state read's own error.
	StepReadError
)

func (k StepKind) String() string {
	switch k {
	case StepDone:
		return "done"
	case StepRun:
		return "run"
	case StepFallBack:
		return "fall back"
	case StepWait:
		return "wait"
	case StepFail:
		return "fail"
	case StepNotRunning:
		return "not running"
	case StepReadError:
		return "read error"
	}
	return "step(" + strconv.Itoa(int(k)) + ")"
}

// Step is a loop's next step and what it needs.
type Step struct {
	Kind     StepKind
	Command  string        // StepRun: drbdadm's subcommand; the resource is its argument
	FallBack [][]string    // StepFallBack: drbdsetup's arguments, one command each
	Wait     time.Duration // StepWait
	// GiveUpIfCut: a StepWait cut short by the deadline fails the action
	// with Reason (after removing the score when RemoveScore); without
	// it, the state read after the wait tells what happened.
	GiveUpIfCut bool
	// Reason is the exit reason of StepFail and StepNotRunning, and of a
	// StepWait with GiveUpIfCut should it be cut short.
	Reason string
	// RemoveScore: before failing, delete this node's promotion score, so
	// that Pacemaker does not try here again.
	RemoveScore bool
	// Warning is logged before the step is taken ("" nothing).
	Warning string
}

func (s Step) String() string {
	out := s.Kind.String()
	switch s.Kind {
	case StepRun:
		out += " " + s.Command
	case StepFallBack:
		out += fmt.Sprintf(" %q", s.FallBack)
	case StepWait:
		out += " " + s.Wait.String()
		if s.GiveUpIfCut {
			out += " or give up"
		}
	}
	if s.Reason != "" {
		out += fmt.Sprintf(" (%s)", s.Reason)
	}
	if s.RemoveScore {
		out += " removing the score"
	}
	if s.Warning != "" {
		out += fmt.Sprintf(" warning %q", s.Warning)
	}
	return out
}

// History is what a loop has done so far.
type History struct {
	Attempts    int           // commands run, the one AfterRun hears of included
	LastFailure string        // what the last command that failed said; "" none did
	Elapsed     time.Duration // since the action began
	OutOfTime   bool          // the action's deadline has passed
}

// FallBackResult is how a StepFallBack went.
type FallBackResult int

// Fall-back results.
const (
	FallBackNotTried FallBackResult = iota
	FallBackWorked                  // every drbdsetup command succeeded
	FallBackFailed                  // one failed
)

// Ran is how the drbdadm command of a StepRun went, and its fall-back.
type Ran struct {
	Command  string // drbdadm's subcommand
	Failed   bool   // drbdadm did not succeed
	Code     int    // its exit code (-1: killed, or did not run)
	Message  string // what it said, for exit reasons and logs
	FallBack FallBackResult
}

// Worked reports whether the step did its job: drbdadm, or drbdsetup in
// its place.
func (r Ran) Worked() bool { return !r.Failed || r.FallBack == FallBackWorked }

// LoopRules are the rules of one retrying action.
type LoopRules interface {
	// Next is the step after the state st was read.
	Next(st *Resource, h History) Step
	// AfterRun is the step after the command of a StepRun (or its
	// fall-back) ran on the state st.
	AfterRun(st *Resource, h History, ran Ran) Step
	// AfterReadError is the step after the state could not be read.
	AfterReadError(h History) Step
}

func settle() Step { return Step{Kind: StepWait, Wait: Settle} }

func fail(format string, args ...any) Step {
	return Step{Kind: StepFail, Reason: fmt.Sprintf(format, args...)}
}

// retry is the step after a command that failed: log why, pause, and give
// up with outOfTime should the deadline cut the pause short.
func retry(pause time.Duration, warning, outOfTime string) Step {
	return Step{Kind: StepWait, Wait: pause, GiveUpIfCut: true, Reason: outOfTime, Warning: warning}
}

// afterReadError: once the deadline has passed after a command failed,
// that command's message (in outOfTime) says more than the interrupted
// read; otherwise the read's own error stands.
func afterReadError(h History, outOfTime string) Step {
	if h.LastFailure != "" && h.OutOfTime {
		return Step{Kind: StepFail, Reason: outOfTime}
	}
	return Step{Kind: StepReadError}
}

// Promoting is what promote's rules know besides the state. promote runs
// drbdadm primary at most PromoteAttempts times. It refuses, with the
// reason, stale data and a peer that stays Primary while only one may be;
// DRBD's own refusal (exit 17) is final too.
type Promoting struct {
	Resource    string
	PromotedMax int // the clone's promoted-max, 1 when unset
	// PeerPrimaryGrace is how long, from the action's start, promote
	// keeps looking while a peer is Primary and only one may be.
	PeerPrimaryGrace time.Duration
	Pause            time.Duration // between failed attempts
}

// Next is promote's step after reading st.
func (p Promoting) Next(st *Resource, h History) Step {
	switch {
	case !st.Usable():
		return fail("%s is not running: cannot promote", p.Resource)
	case st.IsPrimary():
		return Step{Kind: StepDone}
	}
	if peer := p.primaryPeer(st); peer != "" {
		// The peer may be demoting right now (a switchover whose demote
		// this node has not seen yet): look again for a while, then give
		// up and take this node out of the running, as upstream's
		// fail_promote_early does.
		refuse := Step{Kind: StepFail, RemoveScore: true,
			Reason: fmt.Sprintf("refusing to promote %s: %s is Primary and promoted-max is 1", p.Resource, peer)}
		if h.Elapsed < p.PeerPrimaryGrace {
			refuse.Kind, refuse.Wait, refuse.GiveUpIfCut = StepWait, p.Pause, true
		}
		return refuse
	}
	if reason := p.staleData(st); reason != "" {
		return Step{Kind: StepFail, Reason: reason}
	}
	if h.Attempts >= PromoteAttempts {
		return fail("%s: promotion failed %d times: %s", p.Resource, PromoteAttempts, h.LastFailure)
	}
	return Step{Kind: StepRun, Command: "primary"}
}

// AfterRun is promote's step after drbdadm primary.
func (p Promoting) AfterRun(_ *Resource, h History, ran Ran) Step {
	switch {
	case !ran.Failed:
		return settle() // and read the state again
	case ran.Code == 17:
		return fail("DRBD refuses to promote %s: %s", p.Resource, ran.Message)
	}
	return retry(p.Pause, fmt.Sprintf("promote %s, attempt %d: %s", p.Resource, h.Attempts, ran.Message),
		p.outOfTime(ran.Message))
}

// AfterReadError is promote's step after a failed state read.
func (p Promoting) AfterReadError(h History) Step {
	return afterReadError(h, p.outOfTime(h.LastFailure))
}

func (p Promoting) outOfTime(last string) string {
	return fmt.Sprintf("%s: promotion not done in time: %s", p.Resource, last)
}

// primaryPeer names a Primary peer when only one Primary is allowed, or
// returns "".
func (p Promoting) primaryPeer(st *Resource) string {
	peer := st.PeerPrimary()
	if peer == "" || p.PromotedMax >= 2 {
		return ""
	}
	if peer == "peer" { // DRBD 8.4 names every peer "peer"
		return "the peer"
	}
	return "peer " + peer
}

// staleData is the reason to refuse stale data: a volume whose data is
// UpToDate neither here nor on a connected peer (DRBD serves a volume that
// is Inconsistent here, during a resync, from an UpToDate peer; that data
// is current). "" when the data may be promoted.
func (p Promoting) staleData(st *Resource) string {
	bad := st.NoUpToDateData()
	if len(bad) == 0 {
		return ""
	}
	disk := DiskState("")
	for _, v := range st.Volumes {
		if v.Number == bad[0] {
			disk = v.Disk
		}
	}
	return fmt.Sprintf("refusing to promote %s: volume %d is %s, not UpToDate, and no connected peer is (%s)",
		p.Resource, bad[0], disk, st.Summary())
}

// Demoting is what demote's rules know besides the state. demote runs
// drbdadm secondary until the deadline (the device may be held open for a
// moment after its user stopped).
type Demoting struct {
	Resource string
	Pause    time.Duration // between failed attempts
}

// Next is demote's step after reading st.
func (d Demoting) Next(st *Resource, _ History) Step {
	switch {
	case !st.Configured():
		return Step{Kind: StepNotRunning, Reason: d.Resource + " is not running"}
	case !st.IsPrimary():
		return Step{Kind: StepDone}
	}
	return Step{Kind: StepRun, Command: "secondary"}
}

// AfterRun is demote's step after drbdadm secondary.
func (d Demoting) AfterRun(_ *Resource, _ History, ran Ran) Step {
	if !ran.Failed {
		return settle()
	}
	return retry(d.Pause, fmt.Sprintf("demote %s: %s", d.Resource, ran.Message), d.outOfTime(ran.Message))
}

// AfterReadError is demote's step after a failed state read.
func (d Demoting) AfterReadError(h History) Step {
	return afterReadError(h, d.outOfTime(h.LastFailure))
}

func (d Demoting) outOfTime(last string) string {
	return fmt.Sprintf("%s could not be demoted: %s", d.Resource, last)
}

// Stopping is what stop's rules know besides the state. stop demotes a
// Primary and takes a Secondary down with drbdadm, until the deadline.
// When drbdadm fails for want of a configuration (the resource was removed
// from it, drbdconf is unreadable, drbdadm is missing), drbdsetup does the
// same from what the kernel has: a stop must not fail, and get the node
// fenced, for a configuration problem.
type Stopping struct {
	Resource string
	Module   Version       // the loaded module: 8.4 demotes by minor
	Pause    time.Duration // between failed attempts
}

// Next is stop's step after reading st.
func (s Stopping) Next(st *Resource, _ History) Step {
	switch {
	case !st.Configured():
		return Step{Kind: StepDone}
	case st.IsPrimary():
		return Step{Kind: StepRun, Command: "secondary"}
	}
	return Step{Kind: StepRun, Command: "down"}
}

// AfterRun is stop's step after drbdadm secondary or down, and after
// drbdsetup's fall-back.
func (s Stopping) AfterRun(st *Resource, h History, ran Ran) Step {
	switch {
	case !ran.Failed:
		return settle()
	case ran.FallBack == FallBackWorked:
		next := settle()
		next.Warning = fmt.Sprintf("drbdadm %s %s failed (%s); drbdsetup did it", ran.Command, s.Resource, ran.Message)
		return next
	case ran.FallBack == FallBackNotTried && !h.OutOfTime:
		return Step{Kind: StepFallBack, FallBack: s.drbdsetupInstead(ran.Command, st)}
	}
	return retry(s.Pause, fmt.Sprintf("stop %s (%s): %s", s.Resource, st.Summary(), ran.Message), s.outOfTime(ran.Message))
}

// AfterReadError is stop's step after a failed state read.
func (s Stopping) AfterReadError(h History) Step {
	return afterReadError(h, s.outOfTime(h.LastFailure))
}

func (s Stopping) outOfTime(last string) string {
	return fmt.Sprintf("%s could not be stopped: %s", s.Resource, last)
}

// drbdsetupInstead is what drbdsetup runs to do what drbdadm command did
// on st: down the resource, or demote it (by minor on DRBD 8).
func (s Stopping) drbdsetupInstead(command string, st *Resource) [][]string {
	switch {
	case command == "down":
		return [][]string{{"down", s.Resource}}
	case s.Module.Major == 8:
		var cmds [][]string
		for _, v := range st.Volumes {
			cmds = append(cmds, []string{"secondary", strconv.Itoa(v.Minor)})
		}
		return cmds
	}
	return [][]string{{"secondary", s.Resource}}
}
