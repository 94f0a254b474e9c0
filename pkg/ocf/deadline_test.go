package ocf

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLazyDeadline(t *testing.T) {
	ctx := withLazyDeadline(time.Now().Add(50 * time.Millisecond))
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 50*time.Millisecond {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err() before the deadline = %v", err)
	}
	// A derived context sees the deadline and the end.
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("derived context not done after the deadline")
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
