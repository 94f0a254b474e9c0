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
