package fence

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeDevice is a machine whose power follows commands after a number of
// status polls, on a fake clock.
type fakeDevice struct {
	on        bool
	pending   *bool // the state the machine moves to
	lag       int   // polls before pending takes effect
	ignore    map[PowerOp]bool
	fail      map[PowerOp]error
	statusErr error
	cycleOff  int // polls a cycle shows off before on again (0: never seen off)
	// failThenDo: a failing command still takes effect (its answer lost).
	failThenDo   bool
	statusFailAt int // the status call (1-based) that fails once
	calls        int
	log          []string
}

func (d *fakeDevice) Status(context.Context) (bool, error) {
	d.log = append(d.log, "status")
	d.calls++
	if d.statusErr != nil {
		return false, d.statusErr
	}
	if d.calls == d.statusFailAt {
		return false, errors.New("session dropped")
	}
	if d.pending != nil {
		if d.lag <= 0 {
			d.on, d.pending = *d.pending, nil
		} else {
			d.lag--
		}
	}
	if d.cycleOff > 0 && !d.on {
		d.cycleOff--
		if d.cycleOff == 0 {
			d.on = true
		}
	}
	return d.on, nil
}

func (d *fakeDevice) Power(_ context.Context, op PowerOp) error {
	d.log = append(d.log, string(op))
	err := d.fail[op]
	if err != nil && !d.failThenDo {
		return err
	}
	if !d.ignore[op] {
		switch op {
		case On, Off:
			want := op == On
			d.pending = &want
		case Cycle:
			if d.cycleOff > 0 {
				d.on = false
			}
		}
	}
	return err
}

func (d *fakeDevice) Close() { d.log = append(d.log, "close") }

type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) sleep(_ context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	return nil
}

func testSequencer(dev Device, t Timing) (*sequencer, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newSequencer(dev, t, nil)
	s.sleep, s.now = clk.sleep, func() time.Time { return clk.t }
	return s, clk
}

var upstreamTiming = Timing{PowerWait: 2 * time.Second, PowerTimeout: 20 * time.Second,
	StatusSleep: time.Second, RetryOn: 1, Method: "onoff"}

func TestSequencing(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		dev     *fakeDevice
		timing  func(*Timing)
		action  string
		msg     string
		code    int
		err     string
		log     string // the device calls, joined
		elapsed time.Duration
	}{
		{name: "status on", dev: &fakeDevice{on: true}, action: "status", msg: "Status: ON", code: 0, log: "status"},
		{name: "status off", dev: &fakeDevice{}, action: "status", msg: "Status: OFF", code: 2, log: "status"},
		{name: "status error", dev: &fakeDevice{statusErr: boom}, action: "status", code: 1, err: "boom"},
		{name: "monitor off is fine", dev: &fakeDevice{}, action: "monitor", code: 0, log: "status"},
		{name: "list needs an answer", dev: &fakeDevice{statusErr: boom}, action: "list", code: 1, err: "boom"},
		{name: "list", dev: &fakeDevice{on: true}, action: "list-status", code: 0, msg: "NOTICE: List option is not working on this device yet"},
		{name: "off when off", dev: &fakeDevice{}, action: "off", msg: "Success: Already OFF", log: "status"},
		{name: "off", dev: &fakeDevice{on: true, lag: 2}, action: "off", msg: "Success: Powered OFF",
			log: "status off status status status", elapsed: 4 * time.Second},
		{name: "off never happens", dev: &fakeDevice{on: true, ignore: map[PowerOp]bool{Off: true}}, action: "off", code: 1,
			err: "Timed out waiting to power OFF", elapsed: 22 * time.Second},
		{name: "off refused", dev: &fakeDevice{on: true, fail: map[PowerOp]error{Off: boom}}, action: "off", code: 1,
			err: "power OFF command failed: boom", log: "status off status"},
		{name: "on retried", dev: &fakeDevice{fail: map[PowerOp]error{On: boom}}, action: "on", code: 1, err: "boom", log: "status on status on status"},
		{name: "off: the answer was lost but the machine is off", dev: &fakeDevice{on: true, fail: map[PowerOp]error{Off: boom}, failThenDo: true},
			action: "off", msg: "Success: Powered OFF", log: "status off status"},
		{name: "off: a failed poll is not the end", dev: &fakeDevice{on: true, lag: 1, statusFailAt: 3}, action: "off",
			msg: "Success: Powered OFF", log: "status off status status status"},
		{name: "on", dev: &fakeDevice{}, action: "on", msg: "Success: Powered ON", log: "status on status"},
		{name: "on when on", dev: &fakeDevice{on: true}, action: "on", msg: "Success: Already ON", log: "status"},
		{name: "reboot", dev: &fakeDevice{on: true}, action: "reboot", msg: "Success: Rebooted",
			log: "status off status on status"},
		{name: "reboot when off", dev: &fakeDevice{}, action: "reboot", msg: "Success: Rebooted", log: "status on status"},
		{name: "reboot: off fails", dev: &fakeDevice{on: true, ignore: map[PowerOp]bool{Off: true}}, action: "reboot",
			code: 1, err: "Timed out waiting to power OFF"},
		{name: "reboot succeeds once off even if on fails", dev: &fakeDevice{on: true, fail: map[PowerOp]error{On: boom}},
			action: "reboot", msg: "Success: Rebooted", log: "status off status on status"},
		{name: "cycle seen off", dev: &fakeDevice{on: true, cycleOff: 5}, timing: cycle, action: "reboot",
			msg: "Success: Rebooted", log: "status cycle status"},
		{name: "cycle never seen off", dev: &fakeDevice{on: true}, timing: cycle, action: "reboot", code: 1,
			err: "never seen off"},
		{name: "cycle when off powers on", dev: &fakeDevice{}, timing: cycle, action: "reboot", msg: "Success: Rebooted",
			log: "status on status"},
		{name: "cycle refused", dev: &fakeDevice{on: true, fail: map[PowerOp]error{Cycle: boom}}, timing: cycle,
			action: "reboot", code: 1, err: "power cycle command failed", log: "status cycle status cycle status"},
		{name: "cycle: the answer was lost but the machine is off", dev: &fakeDevice{on: true, cycleOff: 5, fail: map[PowerOp]error{Cycle: boom}, failThenDo: true},
			timing: cycle, action: "reboot", msg: "Success: Rebooted", log: "status cycle status status"},
		{name: "diag", dev: &fakeDevice{on: true}, action: "diag", msg: "Success: Diagnostic interrupt sent", log: "diag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := upstreamTiming
			if tt.timing != nil {
				tt.timing(&tm)
			}
			s, clk := testSequencer(tt.dev, tm)
			start := clk.t
			msg, code, err := s.run(context.Background(), tt.action)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if err == nil && (msg != tt.msg || code != tt.code) {
				t.Errorf("got %q %d, want %q %d", msg, code, tt.msg, tt.code)
			}
			if tt.log != "" {
				if got := strings.Join(tt.dev.log, " "); got != tt.log {
					t.Errorf("device calls %q, want %q", got, tt.log)
				}
			}
			if tt.elapsed != 0 && clk.t.Sub(start) != tt.elapsed {
				t.Errorf("took %v, want %v (sleeps %v)", clk.t.Sub(start), tt.elapsed, clk.sleeps)
			}
		})
	}
}

func cycle(t *Timing) { t.Method = "cycle" }

func TestTimingBounds(t *testing.T) {
	for stdin, want := range map[string]time.Duration{
		"":                    20 * time.Second,
		"power_timeout=7\n":   7 * time.Second,
		"power_timeout=0\n":   DefaultPowerTimeout,
		"power_timeout=-3\n":  DefaultPowerTimeout,
		"power_timeout=1e9\n": DefaultPowerTimeout,
	} {
		o, _ := Parse(TimingOptions("2"), nil, strings.NewReader(stdin))
		tm, note := TimingOf(o)
		if tm.PowerTimeout != want || (want == DefaultPowerTimeout && stdin != "") != (note != "") {
			t.Errorf("%q: power timeout %v (note %q), want %v", stdin, tm.PowerTimeout, note, want)
		}
	}
}

func TestCyclePollsFast(t *testing.T) {
	dev := &fakeDevice{on: true, cycleOff: 1, lag: 0}
	// A cycle whose off phase shows only at the third poll.
	dev.ignore = map[PowerOp]bool{}
	s, clk := testSequencer(&delayedCycle{fakeDevice: dev, polls: 3}, func() Timing { t := upstreamTiming; cycle(&t); return t }())
	msg, _, err := s.run(context.Background(), "reboot")
	if err != nil || msg != "Success: Rebooted" {
		t.Fatalf("%q %v", msg, err)
	}
	for _, d := range clk.sleeps[:2] {
		if d != cyclePoll {
			t.Errorf("poll gap %v, want %v (sleeps %v)", d, cyclePoll, clk.sleeps)
		}
	}
}

// delayedCycle shows a power cycle's off phase only after some polls.
type delayedCycle struct {
	*fakeDevice
	polls  int
	cycled bool
}

func (d *delayedCycle) Power(ctx context.Context, op PowerOp) error {
	if op == Cycle {
		d.cycled = true
		return nil
	}
	return d.fakeDevice.Power(ctx, op)
}

func (d *delayedCycle) Status(ctx context.Context) (bool, error) {
	if d.cycled {
		d.polls--
		if d.polls <= 0 {
			return false, nil
		}
	}
	return d.fakeDevice.Status(ctx)
}
