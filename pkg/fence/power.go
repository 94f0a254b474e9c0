package fence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Timing is the power sequencing the options ask for.
type Timing struct {
	PowerWait    time.Duration // sleep after each power command
	PowerTimeout time.Duration // limit of the wait for a state change; 0: none
	StatusSleep  time.Duration // gap between status polls
	Delay        time.Duration // before the first command of off and reboot
	RetryOn      int           // further attempts of "on"
	Method       string        // "onoff" or "cycle"
}

// DefaultPowerTimeout replaces a power_timeout that would mean "wait
// forever" (0, negative) or is absurd (over MaxPowerTimeout).
const (
	DefaultPowerTimeout = 20 * time.Second
	MaxPowerTimeout     = 300 * time.Second
)

// TimingOf reads the sequencing options. Unlike fencing.py, paceline
// keeps power_timeout under Pacemaker (disable_timeout) and never waits
// without a bound: the fencer's own timeout is not passed to agents, so
// a machine that never goes off would hold the fencer until it kills the
// agent, without a word. The second result says what was replaced.
func TimingOf(o *Options) (Timing, string) {
	t := Timing{
		PowerWait:    o.Seconds("power_wait"),
		PowerTimeout: o.Seconds("power_timeout"),
		StatusSleep:  o.Seconds("stonith_status_sleep"),
		Delay:        o.Seconds("delay"),
		RetryOn:      int(o.Float("retry_on")),
		Method:       o.Get("method"),
	}
	if t.StatusSleep <= 0 {
		t.StatusSleep = time.Second
	}
	if t.RetryOn < 0 {
		t.RetryOn = 0
	}
	if t.RetryOn > 100 {
		t.RetryOn = 100
	}
	if t.Method == "" {
		t.Method = "onoff"
	}
	note := ""
	if t.PowerTimeout <= 0 || t.PowerTimeout > MaxPowerTimeout {
		note = fmt.Sprintf("power_timeout=%s would wait without a useful bound; using %v", o.Get("power_timeout"), DefaultPowerTimeout)
		t.PowerTimeout = DefaultPowerTimeout
	}
	return t, note
}

// cyclePoll is the status poll interval while waiting to see a power
// cycle's off phase, which IPMI requires to last at least a second.
const cyclePoll = 200 * time.Millisecond

// errTimeout marks a state change not seen within power_timeout.
var errTimeout = errors.New("timed out")

type sequencer struct {
	dev   Device
	t     Timing
	log   *ocf.Logger
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

func newSequencer(dev Device, t Timing, log *ocf.Logger) *sequencer {
	return &sequencer{dev: dev, t: t, log: log, sleep: sleepCtx, now: time.Now}
}

// sleepCtx is ocf.Sleep as the sequencer wants it: the context's error
// when it ended first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if !ocf.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

func (s *sequencer) delay(ctx context.Context) error {
	if s.t.Delay <= 0 {
		return nil
	}
	s.log.Infof("delay %v before fencing", s.t.Delay)
	return s.sleep(ctx, s.t.Delay)
}

// run performs a device action and returns the line to print and the
// exit code.
func (s *sequencer) run(ctx context.Context, action string) (string, int, error) {
	switch action {
	case "status", "monitor", "list", "list-status":
		on, err := s.status(ctx)
		if err != nil {
			return "", ExitFailed, err
		}
		switch action {
		case "status":
			if on {
				return "Status: ON", ExitOK, nil
			}
			return "Status: OFF", ExitOff, nil
		case "monitor":
			return "", ExitOK, nil
		}
		// An IPMI BMC switches one machine: there is nothing to list, but
		// unlike fence_ipmilan this says so only after the BMC answered,
		// so that a device with wrong credentials does not pass.
		return "NOTICE: List option is not working on this device yet", ExitOK, nil
	case "on":
		return s.power(ctx, true, 1+s.t.RetryOn)
	case "off":
		return s.power(ctx, false, 1)
	case "reboot":
		if s.t.Method == "cycle" {
			return s.rebootCycle(ctx)
		}
		return s.rebootOnOff(ctx)
	case "diag":
		if err := s.command(ctx, Diag, 1+s.t.RetryOn); err != nil {
			return "", ExitFailed, err
		}
		s.pause(ctx)
		return "Success: Diagnostic interrupt sent", ExitOK, nil
	}
	return "", ExitFailed, fmt.Errorf("unrecognised action %q", action)
}

func (s *sequencer) status(ctx context.Context) (bool, error) {
	on, err := s.dev.Status(ctx)
	if err != nil {
		return false, err
	}
	s.log.Debugf("power status: %s", onOff(on))
	return on, nil
}

func onOff(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

// power is the on and off actions: switch to want unless the machine is
// there already, with tries attempts.
func (s *sequencer) power(ctx context.Context, want bool, tries int) (string, int, error) {
	on, err := s.status(ctx)
	if err != nil {
		return "", ExitFailed, err
	}
	if on == want {
		return "Success: Already " + onOff(want), ExitOK, nil
	}
	if err := s.switchTo(ctx, want, tries); err != nil {
		return "", ExitFailed, err
	}
	return "Success: Powered " + onOff(want), ExitOK, nil
}

// rebootOnOff powers off (unless off already), then on. As the fence
// agent API requires, the reboot succeeds once the machine was seen off:
// a failure to power on again is logged, not returned.
func (s *sequencer) rebootOnOff(ctx context.Context) (string, int, error) {
	on, err := s.status(ctx)
	if err != nil {
		return "", ExitFailed, err
	}
	if on {
		if err := s.switchTo(ctx, false, 1); err != nil {
			return "", ExitFailed, err
		}
	}
	s.powerOnAfterOff(ctx)
	return "Success: Rebooted", ExitOK, nil
}

func (s *sequencer) powerOnAfterOff(ctx context.Context) {
	if err := s.switchTo(ctx, true, max(1, s.t.RetryOn)); err != nil {
		s.log.Warnf("the machine was powered off but did not come back on: %v", err)
	}
}

// rebootCycle sends a power cycle and, unlike fence_ipmilan, reports
// success only once the machine was seen off: IPMI keeps it off for at
// least a second, and the status is polled every 200 ms meanwhile.
func (s *sequencer) rebootCycle(ctx context.Context) (string, int, error) {
	on, err := s.status(ctx)
	if err != nil {
		return "", ExitFailed, err
	}
	if !on {
		// Off already (a BMC refuses to cycle a machine that is off).
		s.powerOnAfterOff(ctx)
		return "Success: Rebooted", ExitOK, nil
	}
	if err := s.command(ctx, Cycle, 1+s.t.RetryOn); err != nil {
		return "", ExitFailed, err
	}
	if err := s.waitFor(ctx, false, min(cyclePoll, s.t.StatusSleep)); err != nil {
		if errors.Is(err, errTimeout) {
			err = fmt.Errorf("the BMC accepted the power cycle but the machine was never seen off within power_timeout (%v); method=onoff verifies each step", s.t.PowerTimeout)
		}
		return "", ExitFailed, err
	}
	s.pause(ctx)
	return "Success: Rebooted", ExitOK, nil
}

// switchTo sends on or off, sleeps power_wait, and waits for the state,
// up to attempts times.
func (s *sequencer) switchTo(ctx context.Context, want bool, attempts int) error {
	op, name := Off, "OFF"
	if want {
		op, name = On, "ON"
	}
	var last error
	for i := 1; i <= attempts; i++ {
		if i > 1 {
			s.log.Warnf("attempt %d of %d to power %s (previous: %v)", i, attempts, name, last)
		}
		if err := s.dev.Power(ctx, op); err != nil {
			last = fmt.Errorf("power %s command failed: %w", name, err)
			if ctx.Err() != nil {
				break
			}
			// The answer may be what was lost: look before sending again.
			if on, serr := s.dev.Status(ctx); serr == nil && on == want {
				s.log.Warnf("%v; but the power is %s", last, name)
				return nil
			}
			continue
		}
		s.pause(ctx)
		err := s.waitFor(ctx, want, s.t.StatusSleep)
		if err == nil {
			return nil
		}
		if errors.Is(err, errTimeout) {
			err = fmt.Errorf("Timed out waiting to power %s (power_timeout %v)", name, s.t.PowerTimeout)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return last
}

// command sends op, up to attempts times until the device accepts it. A
// cycle whose answer was lost is not sent again once the machine is seen
// off (a second cycle could fail, or reboot the machine twice).
func (s *sequencer) command(ctx context.Context, op PowerOp, attempts int) error {
	var err error
	for i := 1; i <= attempts; i++ {
		if err = s.dev.Power(ctx, op); err == nil || ctx.Err() != nil {
			break
		}
		s.log.Warnf("power %s, attempt %d of %d: %v", op, i, attempts, err)
		if op == Cycle {
			if on, serr := s.dev.Status(ctx); serr == nil && !on {
				return nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("power %s command failed: %w", op, err)
	}
	return nil
}

func (s *sequencer) pause(ctx context.Context) {
	_ = s.sleep(ctx, s.t.PowerWait)
}

// waitFor polls the status every interval until it is want, or until
// power_timeout has passed (errTimeout, or the last poll's error). A
// failed poll is not the end: a BMC may drop its sessions while it
// switches the power. No poll or sleep runs past the deadline.
func (s *sequencer) waitFor(ctx context.Context, want bool, interval time.Duration) error {
	deadline := s.now().Add(s.t.PowerTimeout)
	var last error
	for {
		remaining := deadline.Sub(s.now())
		pctx, cancel := context.WithTimeout(ctx, max(remaining, 0)+pollGrace)
		on, err := s.status(pctx)
		cancel()
		switch {
		case err == nil && on == want:
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return err
			}
			s.log.Warnf("power status poll failed (polling on until power_timeout): %v", err)
			last = err
		default:
			last = nil
		}
		remaining = deadline.Sub(s.now())
		if remaining <= 0 {
			if last != nil {
				return last
			}
			return errTimeout
		}
		if err := s.sleep(ctx, min(interval, remaining)); err != nil {
			return err
		}
	}
}

// pollGrace lets the last status poll started before the deadline finish.
const pollGrace = time.Second
