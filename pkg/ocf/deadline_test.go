package ocf

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLazyDeadline(t *testing.T) {
	// Before the deadline: far enough ahead that no pause of this test
	// (a loaded machine) can reach it.
	at := time.Now().Add(time.Hour)
	far := withLazyDeadline(at)
	if d, ok := far.Deadline(); !ok || !d.Equal(at) {
		t.Fatalf("Deadline() = %v, %v, want %v, true", d, ok, at)
	}
	if err := far.Err(); err != nil {
		t.Fatalf("Err() before the deadline = %v", err)
	}
	select {
	case <-far.Done():
		t.Fatal("Done() before the deadline is closed")
	default:
	}

	// A derived context sees the deadline and the end. The wait is only a
	// bound for a context that never ends.
	ctx := withLazyDeadline(time.Now().Add(50 * time.Millisecond))
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(time.Minute):
		t.Fatal("derived context not done a minute after the deadline")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() after the deadline = %v", ctx.Err())
	}

	past := withLazyDeadline(time.Now().Add(-time.Second))
	if !errors.Is(past.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() of a past deadline = %v", past.Err())
	}
	select {
	case <-past.Done():
	default:
		t.Error("Done() of a past deadline is open")
	}
}
