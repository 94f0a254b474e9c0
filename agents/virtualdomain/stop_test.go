package virtualdomain

import (
	"context"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// TestStop runs stop on the fake libvirt, for the guests that stop
// quickly: what it asks of libvirt and what it logs.
func TestStop(t *testing.T) {
	tests := []struct {
		name   string
		state  State // Undefined: libvirt does not know the domain
		params map[string]string
		calls  []string
		log    string
	}{
		{name: "a graceful shutdown that works", state: Running,
			calls: []string{"shutdown vm1"}, log: "INFO: domain vm1 shut down"},
		{name: "shutdown_mode passed through", state: Running, params: map[string]string{"shutdown_mode": "acpi,agent"},
			calls: []string{"shutdown vm1 acpi agent"}, log: "INFO: domain vm1 shut down"},
		{name: "paused: shut down too", state: Paused,
			calls: []string{"shutdown vm1"}, log: "INFO: domain vm1 shut down"},
		{name: "force_stop: destroyed at once", state: Running, params: map[string]string{"force_stop": "true"},
			calls: []string{"destroy vm1"}, log: "INFO: force_stop: destroying domain vm1"},
		{name: "crashed: destroyed at once", state: Crashed,
			calls: []string{"destroy vm1"}, log: "INFO: domain vm1 is crashed: destroying it"},
		{name: "already stopped", state: ShutOff, log: "INFO: domain vm1 is already stopped (shut off)"},
		{name: "not defined", state: Undefined, log: "INFO: domain vm1 is already stopped (not defined)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hv := newFakeHV()
			if tt.state != Undefined {
				hv.add("vm1", uuid1, tt.state)
			}
			log, err := runOn(t, hv, actionCase{action: "stop", config: domainXML(uuid1), params: tt.params}, stop)
			checkResult(t, err, ocf.Success, "")
			checkCalls(t, hv, tt.calls...)
			checkLog(t, log, tt.log)
			if d := hv.domains["vm1"]; d != nil && d.state.Active() {
				t.Errorf("after stop the domain is %s", d.state)
			}
		})
	}
}

// A guest that ignores the shutdown request gets it again, then is
// destroyed when the time kept for the destroy (GracefulUntil: 3 s of a
// 3.6 s budget) begins, and the stop ends before its deadline.
func TestStopDestroysAGuestThatIgnoresShutdown(t *testing.T) {
	hv := newFakeHV()
	d := hv.add("vm1", uuid1, Running)
	d.ignoresShutdown = true
	c := actionCase{action: "stop", config: domainXML(uuid1), budget: 3600 * time.Millisecond}
	var deadline time.Time
	log, err := runOn(t, hv, c, func(ctx context.Context, a *action) error {
		a.shutdownEvery = 100 * time.Millisecond // instead of 5 s
		deadline = a.r.Deadline
		return stop(ctx, a)
	})
	checkResult(t, err, ocf.Success, "")
	if len(d.shutdowns) < 2 {
		t.Errorf("%d shutdown request(s), want it repeated", len(d.shutdowns))
	}
	if d.destroyedAt.IsZero() {
		t.Fatalf("the domain was not destroyed; log:\n%s", log)
	}
	if until := deadline.Add(-destroyMin); d.destroyedAt.Before(until) {
		t.Errorf("destroyed %s before the end of the graceful part", until.Sub(d.destroyedAt))
	}
	if ended := time.Now(); !ended.Before(deadline) {
		t.Errorf("stop ended %s after its deadline", ended.Sub(deadline))
	}
	if d.state.Active() {
		t.Errorf("after stop the domain is %s", d.state)
	}
	checkLog(t, log, "WARNING: domain vm1 did not shut down gracefully in time: destroying it", "INFO: domain vm1 destroyed")
}

// A destroy that does not take (qemu stuck in the kernel) fails the stop
// at its deadline with the reason, rather than be killed by Pacemaker.
func TestStopDestroyThatDoesNotTake(t *testing.T) {
	hv := newFakeHV()
	d := hv.add("vm1", uuid1, Running)
	d.ignoresDestroy = true
	c := actionCase{action: "stop", config: domainXML(uuid1), params: map[string]string{"force_stop": "1"},
		budget: 300 * time.Millisecond}
	_, err := runOn(t, hv, c, stop)
	checkResult(t, err, ocf.ErrGeneric, "domain vm1 is still running at the end of the stop's time")
}
