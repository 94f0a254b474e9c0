package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/pcmk"
)

// NFS runs the NFS guide's service on the DRBD cluster with paceline's
// agents only: nfsserver (its state on the replicated filesystem) and two
// exportfs resources in the services group before the address, and a
// third guest as the client. The client mounts through the floating
// address with NFSv3 and NFSv4.2, holds a lock on each mount and writes
// all the time. A crash of the server's node, then a switchover with
// pcs resource move: each time the client's writes resume with nothing
// lost (checksums at the end) and both locks are held again on the new
// server (NFSv3 reclaimed after statd's notification, NFSv4 in the
// grace period). It reports the outage the client saw.
func NFS(t *testing.T, env Env) {
	c := drbdlab.StartCluster(t, drbdlab.ClusterSpec{Root: env.Root, NoFencePeer: env.NoFencePeer != "", Client: true,
		BootDelay: drbdlab.ServerBootDelay})
	p := c.SetupServices(t)
	c.SetupNFS(t, p)
	t.Logf("the NFS service runs on %s", c.Guest(p).Name())
	c.MountNFS(t)
	writers := []*drbdlab.NFSWriter{c.StartNFSWriter(t, "v3"), c.StartNFSWriter(t, "v4")}
	locksHeld(t, c, p, writers, time.Minute)

	t.Run("crash", func(t *testing.T) {
		before := fenceRecord(t, c, 1-p, p)
		crash := time.Now()
		c.Guest(p).Kill(t)
		s := 1 - p
		c.WaitServices(t, s, 3*time.Minute)
		t.Logf("services on %s %v after the crash", c.Guest(s).Name(), time.Since(crash).Round(100*time.Millisecond))
		pcmk.PrintTimeline(logWriter{t}, crash, c.Timeline(crash))
		starts, _ := c.Guest(s).Run(t, time.Minute, "grep -E 'Result of (start|promote) operation' /var/log/pacemaker/pacemaker.log | tail -8")
		t.Logf("the starts on %s:\n%s", c.Guest(s).Name(), starts)
		outages(t, writers, crash, "crash")
		locksHeld(t, c, s, writers, 2*time.Minute)
		fencedBy(t, c, s, p, before, crash)
		p = s
		if err := c.WaitReady(4 * time.Minute); err != nil {
			t.Fatal(err)
		}
		c.WaitSynced(t, 2*time.Minute)
	})

	t.Run("move", func(t *testing.T) {
		q := 1 - p
		fenced := fenceRecord(t, c, q, p) + fenceRecord(t, c, p, q)
		start := moveServices(t, c, q)
		outages(t, writers, start, "switchover")
		locksHeld(t, c, q, writers, 2*time.Minute)
		pcmk.PrintTimeline(logWriter{t}, start, c.Timeline(start))
		if n := fenceRecord(t, c, q, p) + fenceRecord(t, c, p, q); n != fenced {
			t.Errorf("%d fencings during the switchover", n-fenced)
		}
		p = q
	})

	// Everything the server confirmed to the client is on the storage.
	for _, w := range writers {
		sum := w.Stop(t)
		if got := c.Checksum(t, p, strings.TrimPrefix(w.Data(), "/srv/data/")); got != sum {
			t.Errorf("%s on %s: checksum %s, the client's confirmed writes %s", w.Data(), c.Guest(p).Name(), got, sum)
		}
	}
}

// outages logs the outage each writer saw after since.
func outages(t *testing.T, writers []*drbdlab.NFSWriter, since time.Time, what string) {
	t.Helper()
	for _, w := range writers {
		o := w.Outage(t, since)
		t.Logf("NFS%s client, %s: last write %+.2f s, first after %+.2f s: outage %.1f s", strings.TrimPrefix(w.Tag, "v"), what,
			o.Last.Sub(since).Seconds(), o.First.Sub(since).Seconds(), o.First.Sub(o.Last).Seconds())
	}
}

// locksHeld waits until guest i holds both client locks.
func locksHeld(t *testing.T, c *drbdlab.Cluster, i int, writers []*drbdlab.NFSWriter, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	c.WaitLocks(t, i, writers, timeout)
	t.Logf("%s holds both client locks (%v)", c.Guest(i).Name(), time.Since(start).Round(100*time.Millisecond))
}
