package proc

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// Until calls check every `every` until it returns nil, and returns nil
// then. It gives up when timeout has passed, with an error naming the
// timeout and check's last error, or at once when check returns an
// error made by Abort (something that waiting cannot mend: the daemon
// waited for exited), with that error.
func Until(timeout, every time.Duration, check func() error) error {
	end := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		var a *aborted
		if errors.As(err, &a) {
			return a.err
		}
		if time.Now().After(end) {
			return fmt.Errorf("not within %v: %w", timeout, err)
		}
		time.Sleep(every)
	}
}

// Eventually is Until for a test: it fails the test, saying what was
// waited for, when check does not come true.
func Eventually(t testing.TB, timeout, every time.Duration, what string, check func() error) {
	t.Helper()
	if err := Until(timeout, every, check); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

type aborted struct{ err error }

func (a *aborted) Error() string { return a.err.Error() }
func (a *aborted) Unwrap() error { return a.err }

// Abort makes check's error end Until at once.
func Abort(err error) error { return &aborted{err} }
