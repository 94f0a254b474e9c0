package ocf

import (
	"errors"
	"fmt"
	"os"
)

// Status is an OCF exit code.
type Status int

// The exit codes of OCF 1.1 (and the resource-agents names for them).
const (
	Success          Status = 0
	ErrGeneric       Status = 1
	ErrArgs          Status = 2
	ErrUnimplemented Status = 3
	ErrPerm          Status = 4
	ErrInstalled     Status = 5
	ErrConfigured    Status = 6
	NotRunning       Status = 7
	RunningPromoted  Status = 8
	FailedPromoted   Status = 9
	Degraded         Status = 190
	DegradedPromoted Status = 191
)

var statusNames = map[Status]string{
	Success:          "OCF_SUCCESS",
	ErrGeneric:       "OCF_ERR_GENERIC",
	ErrArgs:          "OCF_ERR_ARGS",
	ErrUnimplemented: "OCF_ERR_UNIMPLEMENTED",
	ErrPerm:          "OCF_ERR_PERM",
	ErrInstalled:     "OCF_ERR_INSTALLED",
	ErrConfigured:    "OCF_ERR_CONFIGURED",
	NotRunning:       "OCF_NOT_RUNNING",
	RunningPromoted:  "OCF_RUNNING_MASTER",
	FailedPromoted:   "OCF_FAILED_MASTER",
	Degraded:         "OCF_DEGRADED",
	DegradedPromoted: "OCF_DEGRADED_MASTER",
}

// String returns the resource-agents name of the code, e.g. "OCF_NOT_RUNNING".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("OCF_UNKNOWN(%d)", int(s))
}

// Error is an error that carries the exit code an action ends with. Its
// Reason is what the administrator reads next to the failed action; Err,
// when set, is the cause that was wrapped with %w into the reason, kept
// reachable for errors.Is and errors.As.
type Error struct {
	Code   Status
	Reason string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Reason != "": // already includes a cause wrapped with %w
		return e.Reason
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Code.String()
}

func (e *Error) Unwrap() error { return e.Err }

func newErr(code Status, format string, args []any) *Error {
	e := &Error{Code: code}
	// Keep a wrapped cause (%w) reachable through errors.Is/As.
	err := fmt.Errorf(format, args...)
	e.Reason = err.Error()
	if u := errors.Unwrap(err); u != nil {
		e.Err = u
	}
	return e
}

// Generic returns an error that ends the action with OCF_ERR_GENERIC (1).
func Generic(format string, args ...any) error { return newErr(ErrGeneric, format, args) }

// InvalidArgs returns an error for parameters that are wrong on this host
// only (OCF_ERR_ARGS, 2), such as a file that is missing here.
func InvalidArgs(format string, args ...any) error { return newErr(ErrArgs, format, args) }

// Unimplemented returns an error for an unsupported action (3).
func Unimplemented(format string, args ...any) error {
	return newErr(ErrUnimplemented, format, args)
}

// Perm returns an error for insufficient privileges (4).
func Perm(format string, args ...any) error { return newErr(ErrPerm, format, args) }

// NotInstalled returns an error for software missing on this host (5).
func NotInstalled(format string, args ...any) error { return newErr(ErrInstalled, format, args) }

// NotConfigured returns an error for parameters that are wrong anywhere
// (OCF_ERR_CONFIGURED, 6): Pacemaker stops the resource cluster-wide.
func NotConfigured(format string, args ...any) error {
	return newErr(ErrConfigured, format, args)
}

// Stopped returns the monitor result "cleanly not running" (7). A non-empty
// reason is shown as the exit reason (useful when something is present but
// not as configured); pass "" for the plain case.
func Stopped(format string, args ...any) error {
	if format == "" {
		return &Error{Code: NotRunning}
	}
	return newErr(NotRunning, format, args)
}

// Result returns an error that carries code without a reason. Result(0) is
// nil. It serves monitor results such as RunningPromoted.
func Result(code Status) error {
	if code == Success {
		return nil
	}
	return &Error{Code: code}
}

// CodeOf maps an action's error to its exit code: nil is success, an
// *Error anywhere in the chain gives its code, anything else is generic.
func CodeOf(err error) Status {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ErrGeneric
}

// ReasonOf returns the text for the exit-reason line: the outermost
// message, which carries the context the handlers added with %w.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Reason == "" && e.Err == nil {
		// A bare code: no reason, unless context was wrapped around it.
		if err == error(e) {
			return ""
		}
	}
	return err.Error()
}

// NeedRoot returns an OCF_ERR_PERM error saying why the action needs root
// ("<agent> must run as root to <why>"), or nil when running as root.
func NeedRoot(agent, why string) error {
	if os.Geteuid() != 0 {
		return Perm("%s must run as root to %s", agent, why)
	}
	return nil
}
