package scenario

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// waitUntil polls cond every second until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	proc.Eventually(t, timeout, time.Second, what, func() error {
		if ok, state := cond(); !ok {
			return errors.New("last: " + state)
		}
		return nil
	})
}

// checkData verifies the checksum of a file on guest i.
func checkData(t *testing.T, c *drbdlab.Cluster, i int, name, sum string) {
	t.Helper()
	if got := c.Checksum(t, i, name); got != sum {
		t.Errorf("%s: /srv/data/%s: %s, want checksum %s", c.Guest(i).Name(), name, got, sum)
	}
}

// fenceRecord counts the fencings of guest victim that guest via's
// pacemaker.log reports as done ("Peer X was terminated ... OK"). The
// fencing history is no help here: Pacemaker keeps one entry per target
// and action, and a rejoining node's older copy can mask a new one.
func fenceRecord(t *testing.T, c *drbdlab.Cluster, via, victim int) int {
	t.Helper()
	return c.Count(t, via, "Peer "+c.Guest(victim).Name()+" was terminated")
}

// fencedBy waits until guest via's log reports a fencing of guest victim
// more than before, and checks that the BMC cut the power after since
// and that the fencing history has it.
func fencedBy(t *testing.T, c *drbdlab.Cluster, via, victim, before int, since time.Time) {
	t.Helper()
	name := c.Guest(victim).Name()
	// The BMC's power off comes first; the fencer confirms the reboot
	// once the power is on again.
	waitUntil(t, time.Minute, "a new fencing of "+name+" reported on "+c.Guest(via).Name(), func() (bool, string) {
		n := fenceRecord(t, c, via, victim)
		return n > before, fmt.Sprintf("%d reported, %d before", n, before)
	})
	out, _ := c.Guest(via).Run(t, 60*time.Second, "stonith_admin --history "+name)
	if !regexp.MustCompile(`(reboot|off) of ` + name + ` successful`).MatchString(out) {
		t.Errorf("fencing history of %s on %s:\n%s", name, c.Guest(via).Name(), out)
	}
	off := false
	for _, e := range c.BMCs[victim].PowerEvents() {
		off = off || (!e.On && !e.At.Before(since))
	}
	if !off {
		t.Errorf("the BMC of %s did not power it off after %s: %v", name, since.Format(time.RFC3339Nano), c.BMCs[victim].PowerEvents())
	}
}

// waitPowerOff waits until guest victim's BMC has cut its power after
// since: the fencing of a crash reached the BMC.
func waitPowerOff(t *testing.T, c *drbdlab.Cluster, victim int, since time.Time) {
	t.Helper()
	waitUntil(t, 2*time.Minute, "the BMC of "+c.Guest(victim).Name()+" powering it off", func() (bool, string) {
		ev := c.BMCs[victim].PowerEvents()
		for _, e := range ev {
			if !e.On && !e.At.Before(since) {
				return true, ""
			}
		}
		return false, fmt.Sprint(ev)
	})
}

// noFencing checks that nobody was fenced.
func noFencing(t *testing.T, c *drbdlab.Cluster, i int) {
	t.Helper()
	out, _ := c.Guest(i).Run(t, 60*time.Second, "stonith_admin --history '*'")
	if strings.Contains(out, "successful") || strings.Contains(out, "failed") {
		t.Errorf("fencing happened:\n%s", out)
	}
}

// moveServices moves the services to guest q with pcs resource move, as
// an administrator does, waits until they run there, clears the move's
// constraint, and returns when pcs was called.
func moveServices(t *testing.T, c *drbdlab.Cluster, q int) time.Time {
	t.Helper()
	start := time.Now()
	out, rc := c.Guest(q).Run(t, 3*time.Minute, "pcs resource move drbd_r0-clone "+c.Guest(q).Name()+" --promoted")
	if rc != 0 {
		t.Fatalf("pcs resource move: exit %d\n%s", rc, out)
	}
	c.WaitServices(t, q, 3*time.Minute)
	t.Logf("switchover to %s in %v", c.Guest(q).Name(), time.Since(start).Round(100*time.Millisecond))
	c.Guest(q).MustExec(t, "crm_resource --clear --resource drbd_r0-clone >/dev/null 2>&1 || true")
	return start
}

// handler is the constraint DRBD's fence-peer handler (crm-fence-peer.sh)
// places while the peer's data may be stale.
const handler = "cibadmin --query --scope constraints | grep -q drbd-fence-by-handler"

// DRBD runs the replicated-storage cluster of the classic guides with
// paceline's agents only: two qemu guests (the Debian kernel's DRBD 8.4,
// env's userspace) as a Corosync + Pacemaker cluster, ocf:paceline:drbd
// as a promotable clone under an ext4 ocf:paceline:Filesystem and an
// ocf:paceline:IPaddr2, and fence_paceline_ipmilan fencing through each
// guest's simulated BMC, whose power off kills the guest's qemu. One
// cluster serves the four scenarios in turn: a planned switchover, a
// crash of the primary, a cut replication link, and dual-primary.
func DRBD(t *testing.T, env Env) {
	c := drbdlab.StartCluster(t, drbdlab.ClusterSpec{Root: env.Root, NoFencePeer: env.NoFencePeer != ""})
	ver, _ := c.Guest(0).Run(t, time.Minute, "pacemakerd --version | head -1; drbdadm --version | grep DRBDADM_VERSION=")
	t.Logf("the guests run %s", strings.Join(strings.Fields(ver), " "))
	if !strings.HasPrefix(ver, "Pacemaker "+env.Pacemaker) {
		t.Fatalf("the guests run %q, want Pacemaker %s*", ver, env.Pacemaker)
	}
	p := c.SetupServices(t)
	t.Logf("services run on %s", c.Guest(p).Name())
	sums := map[string]string{}

	t.Run("switchover", func(t *testing.T) {
		q := 1 - p
		sum := c.WriteData(t, p, "before-move")
		sums["before-move"] = sum
		c.WaitSynced(t, time.Minute)
		demoted, promoted := c.CountResult(t, p, "demote", "drbd_r0"), c.CountResult(t, q, "promote", "drbd_r0")
		moveServices(t, c, q)
		checkData(t, c, q, "before-move", sum)
		if n := c.CountResult(t, p, "demote", "drbd_r0"); n != demoted+1 {
			t.Errorf("%s logged %d demotes of drbd_r0, want 1", c.Guest(p).Name(), n-demoted)
		}
		if n := c.CountResult(t, q, "promote", "drbd_r0"); n != promoted+1 {
			t.Errorf("%s logged %d promotes of drbd_r0, want 1", c.Guest(q).Name(), n-promoted)
		}
		noFencing(t, c, q)
		c.WaitSynced(t, time.Minute)
		p = q
	})

	t.Run("crash-primary", func(t *testing.T) {
		before := fenceRecord(t, c, 1-p, p)
		cr := c.CrashPrimary(t, p, "before-crash")
		s := cr.Survivor
		t.Logf("services on %s %v after the crash", c.Guest(s).Name(), cr.Recovered.Round(100*time.Millisecond))
		checkData(t, c, s, cr.File, cr.Sum)
		checkData(t, c, s, "before-move", sums["before-move"])
		if at, err := c.VIPAnswerer(); err != nil || at != s {
			t.Errorf("%s answers from guest %d (%v), want %s", drbdlab.VIP, at, err, c.Guest(s).Name())
		}
		fencedBy(t, c, s, p, before, cr.At)
		pcmk.PrintTimeline(logWriter{t}, cr.At, c.Timeline(cr.At))
		// The crashed node is powered on again by its BMC, rejoins, and
		// DRBD resyncs it; then the survivor's handler constraint (it
		// was promoted without its peer) goes.
		if err := c.WaitReady(4 * time.Minute); err != nil {
			t.Fatal(err)
		}
		c.WaitSynced(t, 2*time.Minute)
		c.Guest(s).WaitFor(t, time.Minute, "! { "+handler+"; }")
		p = s
	})

	cutLink := func(t *testing.T) {
		q := 1 - p
		c.Guest(p).WaitFor(t, time.Minute, "! { "+handler+"; }")
		c.CutLink(t)
		// The primary's fence-peer handler forbids promoting the peer,
		// whose data is about to go stale (none was there before the cut).
		c.Guest(p).WaitFor(t, time.Minute, handler)
		sum := c.WriteData(t, p, "after-cut")
		promoted := c.CountResult(t, q, "promote", "drbd_r0")
		before := fenceRecord(t, c, q, p)
		crash := time.Now()
		c.Guest(p).Kill(t)
		// The survivor fences the primary, but never promotes its stale
		// copy: nothing runs until the primary is back.
		waitPowerOff(t, c, p, crash)
		waitUntil(t, 4*time.Minute, c.Guest(p).Name()+" back, "+c.Guest(q).Name()+" never promoted", func() (bool, string) {
			on, err := c.Where(q, "drbd_r0", "Promoted")
			if err == nil && len(on) > 0 && on[0] == c.Guest(q).Name() {
				t.Fatalf("%s was promoted with stale data while the link was cut", c.Guest(q).Name())
			}
			return c.WaitReady(time.Second) == nil, fmt.Sprint("promoted on ", on, err)
		})
		c.WaitServices(t, p, 3*time.Minute)
		fencedBy(t, c, q, p, before, crash)
		if n := c.CountResult(t, q, "promote", "drbd_r0"); n != promoted {
			t.Errorf("%s was promoted %d times with stale data while the link was cut", c.Guest(q).Name(), n-promoted)
		}
		if role, err := c.Role(q, "r0"); err != nil || role != "Secondary/UpToDate" {
			t.Errorf("%s: r0 %s (%v), want Secondary/UpToDate (its own view)", c.Guest(q).Name(), role, err)
		}
		checkData(t, c, p, "after-cut", sum)
		// Healed: the peer resyncs, the handler's constraint goes.
		c.HealLink(t)
		c.WaitSynced(t, 2*time.Minute)
		c.Guest(p).WaitFor(t, time.Minute, "! { "+handler+"; }")
	}
	if env.NoFencePeer != "" {
		// What this scenario proves is DRBD's own handler at work.
		t.Logf("cut-replication-link not run: %s", env.NoFencePeer)
	} else {
		t.Run("cut-replication-link", cutLink)
	}

	t.Run("dual-primary", func(t *testing.T) {
		c.PCS(t, p, []string{"resource", "disable", "svc"})
		waitUntil(t, 2*time.Minute, "svc stopped", func() (bool, string) {
			on, err := c.Where(p, "fs", "Started")
			return err == nil && len(on) == 0, fmt.Sprint(on, err)
		})
		c.WriteResource(t, "r0", c.Res(true).Text())
		for _, g := range c.Guests() {
			g.MustExec(t, "drbdadm adjust r0")
		}
		c.PCS(t, p, []string{"resource", "meta", "drbd_r0-clone", "promoted-max=2"})
		waitUntil(t, 2*time.Minute, "drbd_r0 promoted on both", func() (bool, string) {
			on, err := c.Where(p, "drbd_r0", "Promoted")
			return err == nil && len(on) == 2, fmt.Sprint(on, err)
		})
		for i := range c.Guests() {
			if role, err := c.Role(i, "r0"); err != nil || role != "Primary/UpToDate" {
				t.Fatalf("%s: r0 %s (%v), want Primary/UpToDate", c.Guest(i).Name(), role, err)
			}
		}
		// Each side writes, the other reads it back (protocol C).
		block := func(i, at int) string {
			return c.Guest(i).MustExec(t, fmt.Sprintf("dd if=/dev/drbd0 bs=64k skip=%d count=1 iflag=direct status=none | sha256sum", at))
		}
		for i := range c.Guests() {
			c.Guest(i).MustExec(t, fmt.Sprintf("dd if=/dev/urandom of=/dev/drbd0 bs=64k seek=%d count=1 oflag=direct status=none", 100+i))
			if a, b := block(i, 100+i), block(1-i, 100+i); a != b {
				t.Errorf("block written on %s reads %s on %s, %s there", c.Guest(i).Name(), b, c.Guest(1-i).Name(), a)
			}
		}
		// Losing one leaves the other primary and writable.
		v, s := 1-p, p
		before := fenceRecord(t, c, s, v)
		crash := time.Now()
		c.Guest(v).Kill(t)
		out, rc := c.Guest(s).Run(t, 60*time.Second,
			"dd if=/dev/urandom of=/dev/drbd0 bs=64k seek=200 count=16 oflag=direct status=none && drbdadm role r0")
		if rc != 0 || !strings.HasPrefix(out, "Primary/") {
			t.Fatalf("%s after %s crashed: exit %d: %s", c.Guest(s).Name(), c.Guest(v).Name(), rc, out)
		}
		waitPowerOff(t, c, v, crash)
		fencedBy(t, c, s, v, before, crash)
		waitUntil(t, time.Minute, "drbd_r0 promoted on "+c.Guest(s).Name()+" only", func() (bool, string) {
			on, err := c.Where(s, "drbd_r0", "Promoted")
			return err == nil && len(on) == 1 && on[0] == c.Guest(s).Name(), fmt.Sprint(on, err)
		})
		c.Guest(s).MustExec(t, "dd if=/dev/urandom of=/dev/drbd0 bs=64k seek=300 count=16 oflag=direct status=none")
	})
}
