package ocf

import (
	"context"
	"sync"
	"time"
)

// deadlineCtx is a context that ends at a deadline, like
// context.WithDeadline, but arms its timer only when someone asks for
// Done. Most actions (a monitor) never wait on their context; starting a
// runtime timer would set up the netpoller (three system calls and a
// thread wake-up) in every one of those short processes for nothing.
type deadlineCtx struct {
	context.Context // Background: no values, no parent cancellation
	deadline        time.Time
	arm             sync.Once
	fire            sync.Once
	done            chan struct{}
}

func withLazyDeadline(d time.Time) *deadlineCtx {
	return &deadlineCtx{Context: context.Background(), deadline: d, done: make(chan struct{})}
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) expire() { c.fire.Do(func() { close(c.done) }) }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.arm.Do(func() {
		if wait := time.Until(c.deadline); wait > 0 {
			time.AfterFunc(wait, c.expire)
		} else {
			c.expire()
		}
	})
	return c.done
}

func (c *deadlineCtx) Err() error {
	if !time.Now().Before(c.deadline) {
		c.expire()
	}
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *deadlineCtx) String() string { return "ocf.deadline(" + c.deadline.String() + ")" }

// Sleep waits d, or less when ctx ends first; it reports whether all of d
// passed. Loops that poll the system sleep with it, so that an action
// that runs out of time stops waiting at once.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Share is a part of what is left of ctx's budget: the time until its
// deadline divided by parts, kept between lo and hi (hi when ctx has no
// deadline). A step that must leave time for the steps after it (a wait
// for a carrier, a netlink answer, an unmount that may hang) waits this
// long at the most.
func Share(ctx context.Context, parts int, lo, hi time.Duration) time.Duration {
	d, ok := ctx.Deadline()
	if !ok {
		return hi
	}
	return ShareUntil(time.Now(), d, parts, lo, hi)
}

// ShareUntil is Share for a deadline of the caller's own, seen from now.
func ShareUntil(now, deadline time.Time, parts int, lo, hi time.Duration) time.Duration {
	if parts < 1 {
		parts = 1
	}
	s := deadline.Sub(now) / time.Duration(parts)
	if s > hi {
		s = hi
	}
	if s < lo {
		s = lo
	}
	return s
}
