package virtualdomain

import (
	"fmt"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// State is a domain state as libvirt reports it (virDomainState); the
// values are libvirt's, so the real connection converts by number.
type State int

// Domain states.
const (
	NoState      State = 0
	Running      State = 1
	Blocked      State = 2
	Paused       State = 3
	ShuttingDown State = 4
	ShutOff      State = 5
	Crashed      State = 6
	PMSuspended  State = 7
	// Undefined is not a libvirt state: the domain is not known to libvirt.
	Undefined State = -1
)

var stateNames = map[State]string{
	NoState: "no state", Running: "running", Blocked: "blocked", Paused: "paused",
	ShuttingDown: "in shutdown", ShutOff: "shut off", Crashed: "crashed",
	PMSuspended: "pmsuspended", Undefined: "not defined",
}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state %d", int(s))
}

// Active reports whether the domain has a running qemu: every state that
// upstream's status counts as running, and the ones it reports as errors.
func (s State) Active() bool {
	return s != ShutOff && s != Undefined
}

// StatusOf maps a domain state to the monitor's result as
// ocf:heartbeat:VirtualDomain does: running, blocked, paused and "in
// shutdown" are running (0); shut off or undefined is not running (7);
// crashed and pmsuspended are errors (1). NoState is an error too; the
// caller retries it first.
func StatusOf(name string, s State) error {
	switch s {
	case Running, Blocked, ShuttingDown:
		return nil
	case Paused:
		return nil
	case ShutOff:
		return ocf.Stopped("domain %s is shut off", name)
	case Undefined:
		return ocf.Stopped("domain %s is not defined", name)
	case Crashed, PMSuspended:
		return ocf.Generic("domain %s is %s", name, s)
	}
	return ocf.Generic("domain %s has no usable state (%s)", name, s)
}
