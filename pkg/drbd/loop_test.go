package drbd

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// The rules of the retrying actions, branch by branch.

const pause = time.Second

// in describes a rule's input for failure messages.
func in(st *Resource, h History, extra ...any) string {
	s := fmt.Sprintf("%q, %+v", st.Summary(), h)
	for _, e := range extra {
		s += fmt.Sprintf(", %+v", e)
	}
	return s
}

func check(t *testing.T, call string, got, want Step) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", call, got, want)
	}
}

// twoVolumes is a resource with volumes 0 and 1 on minors 3 and 4.
func twoVolumes(role Role) *Resource {
	r := two(role, Secondary, Connected, UpToDate, UpToDate)
	r.Volumes = []Volume{{Number: 0, Minor: 3, Disk: UpToDate}, {Number: 1, Minor: 4, Disk: UpToDate}}
	r.Peers[0].Volumes = []PeerVolume{{Number: 0, PeerDisk: UpToDate}, {Number: 1, PeerDisk: UpToDate}}
	return r
}

func TestPromotingNext(t *testing.T) {
	p := Promoting{Resource: "r0", PromotedMax: 1, PeerPrimaryGrace: 10 * time.Second, Pause: pause}
	dual := p
	dual.PromotedMax = 2
	named := two(Secondary, Primary, Connected, UpToDate, UpToDate)
	named.Peers[0].Name = "guest-b"
	noVolumes := &Resource{Name: "r0", Role: Secondary}
	secondary := two(Secondary, Secondary, Connected, UpToDate, UpToDate)
	peerPrimary := two(Secondary, Primary, Connected, UpToDate, UpToDate)
	stale := two(Secondary, RoleUnknown, "Connecting", Outdated, DUnknown)
	refusePeer := func(who string) Step {
		return Step{Kind: StepFail, RemoveScore: true, Reason: "refusing to promote r0: " + who + " is Primary and promoted-max is 1"}
	}
	waitPeer := func(who string) Step {
		s := refusePeer(who)
		s.Kind, s.Wait, s.GiveUpIfCut = StepWait, pause, true
		return s
	}
	cases := []struct {
		rules Promoting
		st    *Resource
		h     History
		want  Step
	}{
		{p, nil, History{}, Step{Kind: StepFail, Reason: "r0 is not running: cannot promote"}},
		{p, noVolumes, History{}, Step{Kind: StepFail, Reason: "r0 is not running: cannot promote"}},
		{p, two(Primary, Secondary, Connected, UpToDate, UpToDate), History{Attempts: 1}, Step{Kind: StepDone}},
		{p, peerPrimary, History{Elapsed: 3 * time.Second}, waitPeer("the peer")},
		{p, named, History{Elapsed: 3 * time.Second}, waitPeer("peer guest-b")},
		{p, peerPrimary, History{Elapsed: 10 * time.Second}, refusePeer("the peer")},
		{p, named, History{Elapsed: time.Minute}, refusePeer("peer guest-b")},
		{dual, peerPrimary, History{Elapsed: time.Minute}, Step{Kind: StepRun, Command: "primary"}},
		{p, stale, History{}, Step{Kind: StepFail,
			Reason: "refusing to promote r0: volume 0 is Outdated, not UpToDate, and no connected peer is (Secondary, disk Outdated, peer peer Connecting Unknown DUnknown)"}},
		// Inconsistent here, UpToDate on a connected peer: current data.
		{p, two(Secondary, Secondary, Connected, Inconsistent, UpToDate), History{}, Step{Kind: StepRun, Command: "primary"}},
		{p, secondary, History{Attempts: PromoteAttempts - 1, LastFailure: "busy"}, Step{Kind: StepRun, Command: "primary"}},
		{p, secondary, History{Attempts: PromoteAttempts, LastFailure: "busy"},
			Step{Kind: StepFail, Reason: "r0: promotion failed 5 times: busy"}},
		{p, secondary, History{}, Step{Kind: StepRun, Command: "primary"}},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("%+v.Next(%s)", c.rules, in(c.st, c.h)), c.rules.Next(c.st, c.h), c.want)
	}
}

func TestPromotingAfterRun(t *testing.T) {
	p := Promoting{Resource: "r0", PromotedMax: 1, Pause: pause}
	st := two(Secondary, Secondary, Connected, UpToDate, UpToDate)
	h := History{Attempts: 2}
	cases := []struct {
		ran  Ran
		want Step
	}{
		{Ran{Command: "primary"}, Step{Kind: StepWait, Wait: Settle}},
		{Ran{Command: "primary", Failed: true, Code: 17, Message: "Need access to UpToDate data"},
			Step{Kind: StepFail, Reason: "DRBD refuses to promote r0: Need access to UpToDate data"}},
		{Ran{Command: "primary", Failed: true, Code: 11, Message: "Multiple primaries not allowed"},
			Step{Kind: StepWait, Wait: pause, GiveUpIfCut: true,
				Reason:  "r0: promotion not done in time: Multiple primaries not allowed",
				Warning: "promote r0, attempt 2: Multiple primaries not allowed"}},
		{Ran{Command: "primary", Failed: true, Code: -1, Message: "killed"},
			Step{Kind: StepWait, Wait: pause, GiveUpIfCut: true,
				Reason: "r0: promotion not done in time: killed", Warning: "promote r0, attempt 2: killed"}},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("Promoting.AfterRun(%s)", in(st, h, c.ran)), p.AfterRun(st, h, c.ran), c.want)
	}
}

func TestDemotingNext(t *testing.T) {
	d := Demoting{Resource: "r0", Pause: pause}
	cases := []struct {
		st   *Resource
		want Step
	}{
		{nil, Step{Kind: StepNotRunning, Reason: "r0 is not running"}},
		{&Resource{Name: "r0"}, Step{Kind: StepNotRunning, Reason: "r0 is not running"}},
		{two(Secondary, Primary, Connected, UpToDate, UpToDate), Step{Kind: StepDone}},
		{two(Primary, Secondary, Connected, UpToDate, UpToDate), Step{Kind: StepRun, Command: "secondary"}},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("Demoting.Next(%s)", in(c.st, History{})), d.Next(c.st, History{}), c.want)
	}
}

func TestDemotingAfterRun(t *testing.T) {
	d := Demoting{Resource: "r0", Pause: pause}
	st := two(Primary, Secondary, Connected, UpToDate, UpToDate)
	cases := []struct {
		ran  Ran
		want Step
	}{
		{Ran{Command: "secondary"}, Step{Kind: StepWait, Wait: Settle}},
		{Ran{Command: "secondary", Failed: true, Code: 11, Message: "Device is held open by someone"},
			Step{Kind: StepWait, Wait: pause, GiveUpIfCut: true,
				Reason:  "r0 could not be demoted: Device is held open by someone",
				Warning: "demote r0: Device is held open by someone"}},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("Demoting.AfterRun(%s)", in(st, History{Attempts: 1}, c.ran)), d.AfterRun(st, History{Attempts: 1}, c.ran), c.want)
	}
}

func TestStoppingNext(t *testing.T) {
	s := Stopping{Resource: "r0", Pause: pause}
	cases := []struct {
		st   *Resource
		want Step
	}{
		{nil, Step{Kind: StepDone}},
		{&Resource{Name: "r0"}, Step{Kind: StepDone}},
		{two(Primary, Secondary, Connected, UpToDate, UpToDate), Step{Kind: StepRun, Command: "secondary"}},
		{two(Secondary, Secondary, Connected, UpToDate, UpToDate), Step{Kind: StepRun, Command: "down"}},
		// Configured without volumes (a partial bring-up): still taken down.
		{&Resource{Name: "r0", Role: Secondary}, Step{Kind: StepRun, Command: "down"}},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("Stopping.Next(%s)", in(c.st, History{})), s.Next(c.st, History{}), c.want)
	}
}

func TestStoppingAfterRun(t *testing.T) {
	s84 := Stopping{Resource: "r0", Module: Version{8, 4, 11}, Pause: pause}
	s9 := Stopping{Resource: "r0", Module: Version{9, 2, 12}, Pause: pause}
	primary := twoVolumes(Primary)
	secondary := twoVolumes(Secondary)
	held := "Device is held open by someone"
	retryHeld := func(st *Resource) Step {
		return Step{Kind: StepWait, Wait: pause, GiveUpIfCut: true,
			Reason: "r0 could not be stopped: " + held, Warning: "stop r0 (" + st.Summary() + "): " + held}
	}
	cases := []struct {
		rules Stopping
		st    *Resource
		h     History
		ran   Ran
		want  Step
	}{
		{s84, primary, History{}, Ran{Command: "secondary"}, Step{Kind: StepWait, Wait: Settle}},
		{s84, secondary, History{}, Ran{Command: "down", Failed: true, Code: 10, Message: "not defined in your config"},
			Step{Kind: StepFallBack, FallBack: [][]string{{"down", "r0"}}}},
		{s84, primary, History{}, Ran{Command: "secondary", Failed: true, Code: 10, Message: "not defined in your config"},
			Step{Kind: StepFallBack, FallBack: [][]string{{"secondary", "3"}, {"secondary", "4"}}}},
		{s9, primary, History{}, Ran{Command: "secondary", Failed: true, Code: 10, Message: "not defined in your config"},
			Step{Kind: StepFallBack, FallBack: [][]string{{"secondary", "r0"}}}},
		{s84, secondary, History{}, Ran{Command: "down", Failed: true, Code: 10, Message: "not defined in your config", FallBack: FallBackWorked},
			Step{Kind: StepWait, Wait: Settle, Warning: "drbdadm down r0 failed (not defined in your config); drbdsetup did it"}},
		{s84, primary, History{}, Ran{Command: "secondary", Failed: true, Code: 11, Message: held, FallBack: FallBackFailed},
			retryHeld(primary)},
		// No time left for drbdsetup: drbdadm's failure stands.
		{s84, primary, History{OutOfTime: true}, Ran{Command: "secondary", Failed: true, Code: -1, Message: held},
			retryHeld(primary)},
	}
	for _, c := range cases {
		check(t, fmt.Sprintf("%+v.AfterRun(%s)", c.rules, in(c.st, c.h, c.ran)), c.rules.AfterRun(c.st, c.h, c.ran), c.want)
	}
}

func TestAfterReadError(t *testing.T) {
	rules := []struct {
		rules  LoopRules
		reason string
	}{
		{Promoting{Resource: "r0"}, "r0: promotion not done in time: busy"},
		{Demoting{Resource: "r0"}, "r0 could not be demoted: busy"},
		{Stopping{Resource: "r0"}, "r0 could not be stopped: busy"},
	}
	for _, r := range rules {
		cases := []struct {
			h    History
			want Step
		}{
			{History{LastFailure: "busy", OutOfTime: true}, Step{Kind: StepFail, Reason: r.reason}},
			{History{LastFailure: "busy"}, Step{Kind: StepReadError}},
			{History{OutOfTime: true}, Step{Kind: StepReadError}},
			{History{}, Step{Kind: StepReadError}},
		}
		for _, c := range cases {
			check(t, fmt.Sprintf("%T.AfterReadError(%+v)", r.rules, c.h), r.rules.AfterReadError(c.h), c.want)
		}
	}
}

func TestRanWorked(t *testing.T) {
	cases := []struct {
		ran  Ran
		want bool
	}{
		{Ran{}, true},
		{Ran{Failed: true}, false},
		{Ran{Failed: true, FallBack: FallBackWorked}, true},
		{Ran{Failed: true, FallBack: FallBackFailed}, false},
	}
	for _, c := range cases {
		if got := c.ran.Worked(); got != c.want {
			t.Errorf("%+v.Worked() = %v, want %v", c.ran, got, c.want)
		}
	}
}

func TestAllPeersConnected(t *testing.T) {
	threeNodes := two(Secondary, Secondary, Connected, UpToDate, UpToDate)
	threeNodes.Peers = append(threeNodes.Peers, Peer{NodeID: 2, Name: "c", Connection: "Connecting"})
	cases := []struct {
		st   *Resource
		want bool
	}{
		{nil, false},
		{&Resource{Name: "r0", Role: Secondary}, false},
		{two(Secondary, Secondary, Connected, UpToDate, UpToDate), true},
		{two(Secondary, RoleUnknown, "Connecting", UpToDate, DUnknown), false},
		{threeNodes, false},
	}
	for _, c := range cases {
		if got := c.st.AllPeersConnected(); got != c.want {
			t.Errorf("AllPeersConnected(%q) = %v, want %v", c.st.Summary(), got, c.want)
		}
	}
}

func TestStepString(t *testing.T) {
	cases := []struct {
		step Step
		want string
	}{
		{Step{Kind: StepRun, Command: "primary"}, "run primary"},
		{Step{Kind: StepFallBack, FallBack: [][]string{{"down", "r0"}}}, `fall back [["down" "r0"]]`},
		{Step{Kind: StepWait, Wait: pause, GiveUpIfCut: true, Reason: "late", RemoveScore: true, Warning: "w"},
			`wait 1s or give up (late) removing the score warning "w"`},
		{Step{Kind: StepDone}, "done"},
		{Step{Kind: StepNotRunning, Reason: "r0 is not running"}, "not running (r0 is not running)"},
		{Step{Kind: StepReadError}, "read error"},
		{Step{Kind: StepFail, Reason: "no"}, "fail (no)"},
		{Step{Kind: StepKind(42)}, "step(42)"},
	}
	for _, c := range cases {
		if got := c.step.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.step, got, c.want)
		}
	}
}
