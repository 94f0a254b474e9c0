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

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep(1ms) without a deadline = false, want true")
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(done, time.Hour) {
		t.Error("Sleep(1h) on an ended context = true, want false")
	}
	if Sleep(done, 0) {
		t.Error("Sleep(0) on an ended context = true, want false")
	}
}

func TestShareUntil(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		left   time.Duration
		parts  int
		lo, hi time.Duration
		want   time.Duration
	}{
		{20 * time.Second, 4, 0, 5 * time.Second, 5 * time.Second},                       // capped
		{8 * time.Second, 4, 0, 5 * time.Second, 2 * time.Second},                        // a quarter
		{time.Millisecond, 1, 10 * time.Millisecond, time.Second, 10 * time.Millisecond}, // at least lo
		{-time.Second, 2, 10 * time.Millisecond, time.Second, 10 * time.Millisecond},     // past the deadline
		{6 * time.Second, 0, 0, time.Minute, 6 * time.Second},                            // parts < 1 counts as 1
	} {
		if got := ShareUntil(now, now.Add(tt.left), tt.parts, tt.lo, tt.hi); got != tt.want {
			t.Errorf("ShareUntil(%v left, %d, %v, %v) = %v, want %v", tt.left, tt.parts, tt.lo, tt.hi, got, tt.want)
		}
	}
	if got := Share(context.Background(), 4, 0, 3*time.Second); got != 3*time.Second {
		t.Errorf("Share(no deadline) = %v, want hi", got)
	}
}
