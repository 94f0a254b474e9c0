package virtualdomain

import (
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// How stop and migrate_to split their time. The rules are VirtualDomain's;
// the arithmetic (a part of the time left, within bounds) is
// ocf.ShareUntil. Pure functions, so that tables can check them.

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

// GracefulUntil is when a stop that began at now with the given deadline
// stops waiting for a graceful shutdown and destroys the domain: a fifth
// of the time left, between 3 and 15 seconds, is kept for the destroy.
func GracefulUntil(now, deadline time.Time) time.Time {
	return leaving(now, deadline, ocf.ShareUntil(now, deadline, 5, destroyMin, destroyMax))
}

// AbortAt is when a migration started at now with the given deadline is
// aborted if it has not finished: a tenth of the time left, between 5 and
// 10 seconds, is kept for the abort.
func AbortAt(now, deadline time.Time) time.Time {
	return leaving(now, deadline, ocf.ShareUntil(now, deadline, 10, abortMin, abortMax))
}

// leaving is the moment that leaves reserve before deadline; now when
// less than that is left, so that the next step gets all there is.
func leaving(now, deadline time.Time, reserve time.Duration) time.Time {
	if t := deadline.Add(-reserve); t.After(now) {
		return t
	}
	return now
}
