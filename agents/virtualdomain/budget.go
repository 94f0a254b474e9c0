package virtualdomain

import "time"

// Budget arithmetic: how an action's time is split. All of it is pure so
// that tables can check it.

const (
	// destroyMin and destroyMax bound the time kept for a destroy at the
	// end of a stop: libvirt's destroy sends SIGTERM, waits up to 10 s for
	// qemu, then SIGKILL; measured 1.3-1.8 s for a guest that exits.
	destroyMin = 3 * time.Second
	destroyMax = 15 * time.Second

	// abortMin and abortMax bound the time kept for aborting a migration
	// and checking that the domain still runs on the source: qemu tears
	// the stream down in a second or two, more on a loaded host.
	abortMin = 5 * time.Second
	abortMax = 10 * time.Second

	// shutdownResend is how often a graceful shutdown request is repeated:
	// a guest that is still booting loses the first one.
	shutdownResend = 5 * time.Second
)

// DestroyReserve is the part of a stop's remaining time kept for the
// destroy: a fifth, between 3 and 15 seconds, never more than what is left.
func DestroyReserve(left time.Duration) time.Duration {
	return clamp(left/5, destroyMin, destroyMax, left)
}

// AbortReserve is the part of a migrate_to's remaining time kept for
// aborting the migration: a tenth, between 5 and 10 seconds.
func AbortReserve(left time.Duration) time.Duration {
	return clamp(left/10, abortMin, abortMax, left)
}

// GracefulUntil is when a stop that began at now with the given deadline
// stops waiting for a graceful shutdown and destroys the domain.
func GracefulUntil(now, deadline time.Time) time.Time {
	left := deadline.Sub(now)
	if left <= 0 {
		return now
	}
	return deadline.Add(-DestroyReserve(left))
}

// AbortAt is when a migration started at now with the given deadline is
// aborted if it has not finished.
func AbortAt(now, deadline time.Time) time.Time {
	left := deadline.Sub(now)
	if left <= 0 {
		return now
	}
	return deadline.Add(-AbortReserve(left))
}

func clamp(d, lo, hi, limit time.Duration) time.Duration {
	if d < lo {
		d = lo
	}
	if d > hi {
		d = hi
	}
	if d > limit {
		d = limit
	}
	return d
}
