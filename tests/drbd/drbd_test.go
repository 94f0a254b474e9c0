//go:build system

// Package drbd_test runs ocf:paceline:drbd against real DRBD 8.4 in two
// qemu guests (tests/drbdlab): the whole lifecycle, scores in
// a real CIB file, a cut link, a crashed Primary, and dual-primary.
package drbd_test

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// cluster is the two guests with the agent and a CIB file in each.
type cluster struct {
	*drbdlab.Pair
	bin string // the paceline binary, seen at the same path in the guests
}

// The clone as pcs creates it for the guides' single-primary setup.
var cloneMeta = []string{"clone_max=2", "clone_node_max=1", "promoted_max=1", "promoted_node_max=1", "notify=true"}

// result is one agent call in a guest.
type result struct {
	code    ocf.Status
	reason  string
	out     string
	timeout time.Duration // the operation's, as given to paceline run
	took    time.Duration // as paceline run measured it in the guest
	killed  bool          // paceline run killed it at the timeout
	elapsed time.Duration // seen from here, guest round trip included
}

// runLine is paceline run's result line (ocf.CallResult.Describe).
var runLine = regexp.MustCompile(`exit code (\d+) \(.*?\) after (\S+?)(, killed at the timeout)?\n`)

// ra runs one action of the agent in g with "paceline run", as Pacemaker
// would: extra holds "--meta k=v", "--interval 20s", "--timeout 8s",
// "--probe" options and "name=value" parameters (after the action). A
// meta attribute or parameter in extra replaces the default one
// (paceline run takes each once), and so does a timeout (40 s).
func (c *cluster) ra(t *testing.T, g *drbdlab.Guest, action string, extra ...string) result {
	t.Helper()
	timeout := 40 * time.Second
	meta := newPairs(append([]string{"on_node=" + g.Name()}, cloneMeta...)...)
	params := newPairs("drbd_resource=r0")
	opts := []string{"-n", "p_drbd:0"}
	for i := 0; i < len(extra); i++ {
		switch e := extra[i]; {
		case e == "--timeout":
			d, err := time.ParseDuration(extra[i+1])
			require.NoError(t, err)
			timeout = d
			i++
		case e == "--meta":
			meta.set(extra[i+1])
			i++
		case e == "--interval":
			opts = append(opts, e, extra[i+1])
			i++
		case strings.HasPrefix(e, "--"):
			opts = append(opts, e)
		default:
			params.set(e)
		}
	}
	opts = append(opts, "--timeout", timeout.String())
	for _, m := range meta.list() {
		opts = append(opts, "--meta", m)
	}
	script := fmt.Sprintf("CIB_file=/run/cib.xml HA_RSCTMP=/run/resource-agents HA_LOGFILE=/run/drbd-agent.log HA_LOGFACILITY=none %s/paceline run %s drbd %s %s 2>&1",
		c.bin, strings.Join(opts, " "), action, strings.Join(params.list(), " "))
	start := time.Now()
	// paceline run kills the agent at its timeout: the bound here only
	// keeps a guest that stopped answering from holding the test.
	out, _ := g.Run(t, timeout+time.Minute, script)
	m := runLine.FindStringSubmatch(out)
	require.NotNil(t, m, "%s %s: no result in %q", g.Name(), action, out)
	code, _ := strconv.Atoi(m[1])
	took, err := time.ParseDuration(m[2])
	require.NoError(t, err, "%s %s: %q", g.Name(), action, m[0])
	r := result{code: ocf.Status(code), out: out, timeout: timeout, took: took, killed: m[3] != "", elapsed: time.Since(start)}
	if i := strings.Index(out, "exit reason: "); i >= 0 {
		r.reason = strings.TrimSpace(strings.SplitN(out[i+len("exit reason: "):], "\n", 2)[0])
	}
	t.Logf("%s: %s %s -> %d (%s) %v (%v from here) %s", g.Name(), action, strings.Join(extra, " "), code, r.code,
		r.took, r.elapsed.Round(time.Millisecond), r.reason)
	return r
}

// pairs are name=value settings in their first order, each name once.
type pairs struct {
	names  []string
	values map[string]string
}

func newPairs(kv ...string) *pairs {
	p := &pairs{values: map[string]string{}}
	for _, s := range kv {
		p.set(s)
	}
	return p
}

// set adds name=value, or replaces the value of a name set before.
func (p *pairs) set(kv string) {
	k, v, _ := strings.Cut(kv, "=")
	if _, ok := p.values[k]; !ok {
		p.names = append(p.names, k)
	}
	p.values[k] = v
}

func (p *pairs) list() []string {
	out := make([]string, len(p.names))
	for i, k := range p.names {
		out[i] = k + "=" + p.values[k]
	}
	return out
}

// inTime fails the test if r was killed at its timeout (what Pacemaker
// does to an agent that overruns), or took at least limit in the guest.
func inTime(t *testing.T, r result, limit time.Duration, why string) {
	t.Helper()
	assert.False(t, r.killed, "killed at the %v timeout: %s", r.timeout, r.out)
	assert.Less(t, r.took, limit, why)
}

func (c *cluster) expect(t *testing.T, g *drbdlab.Guest, action string, code ocf.Status, reason string, extra ...string) result {
	t.Helper()
	r := c.ra(t, g, action, extra...)
	require.Equal(t, code, r.code, "%s %s: %s", g.Name(), action, r.out)
	if reason != "" {
		require.Contains(t, r.reason, reason, r.out)
	}
	return r
}

// score reads this node's promotion score back from the guest's CIB file;
// "" when there is none.
func score(t *testing.T, g *drbdlab.Guest) string {
	t.Helper()
	out, rc := g.Run(t, 30*time.Second, "CIB_file=/run/cib.xml crm_attribute --node "+g.Name()+
		" --name master-p_drbd --lifetime reboot --query --quiet 2>/dev/null")
	if rc != 0 {
		return ""
	}
	return strings.TrimSpace(out)
}

func drbdState(t *testing.T, g *drbdlab.Guest) string {
	t.Helper()
	out, _ := g.Run(t, 30*time.Second, `if [ "$(drbdsetup events2 --now r0)" = "exists -" ]; then echo Unconfigured; else echo $(drbdadm role r0) $(drbdadm cstate r0) $(drbdadm dstate r0); fi`)
	return strings.TrimSpace(out)
}

func TestDRBD(t *testing.T) {
	bin := harness.Install(t)
	p := drbdlab.StartPair(t, drbdlab.PairSpec{})
	c := &cluster{Pair: p, bin: bin}
	a, b := p.A, p.B
	res := drbdlab.Resource{Name: "r0"}
	p.WriteResource(t, "r0", res.Text())
	// Metadata and a skipped initial sync, then down: the agent's start
	// brings it up.
	p.UpConnected(t, "r0")
	for _, g := range p.Guests() {
		g.MustExec(t, "drbdadm down r0")
		g.SetupCIB(t)
	}

	t.Run("probe and validation", func(t *testing.T) {
		for _, g := range p.Guests() {
			c.expect(t, g, "monitor", ocf.NotRunning, "", "--probe")
			assert.Equal(t, "", score(t, g))
		}
		c.expect(t, a, "validate-all", ocf.Success, "")
		c.expect(t, a, "start", ocf.ErrConfigured, "notify=true", "--meta", "notify=false")
		c.expect(t, a, "start", ocf.ErrConfigured, "allow-two-primaries", "--meta", "promoted_max=2")
		c.expect(t, a, "start", ocf.ErrInstalled, "not in /etc/drbd.conf", "drbd_resource=r9")
		assert.Contains(t, drbdState(t, a), "Unconfigured")
	})

	t.Run("start, promote, monitor", func(t *testing.T) {
		err := p.Parallel(func(g *drbdlab.Guest) error {
			r := c.ra(t, g, "start")
			if r.code != ocf.Success {
				return fmt.Errorf("%s start: %s", g.Name(), r.out)
			}
			return nil
		})
		require.NoError(t, err)
		for _, g := range p.Guests() {
			c.expect(t, g, "monitor", ocf.Success, "", "--interval", "20s")
			assert.Equal(t, "10000", score(t, g), g.Name())
		}
		c.expect(t, a, "promote", ocf.Success, "")
		c.expect(t, a, "monitor", ocf.RunningPromoted, "", "--interval", "10s")
		c.expect(t, b, "monitor", ocf.Success, "", "--interval", "20s")
		// Single primary: b refuses after looking for 10 s (the peer
		// might be demoting); upstream looped until the timeout. The
		// timeout is long enough for half of it to tell the two apart,
		// however slow the guests run.
		r := c.expect(t, b, "promote", ocf.ErrGeneric, "the peer is Primary and promoted-max is 1", "--timeout", "120s")
		inTime(t, r, r.timeout/2, "the refusal waited for the timeout, not the 10 s grace")
		assert.Contains(t, drbdState(t, b), "Secondary")
		assert.Equal(t, "", score(t, b), "a refused promotion takes the node out of the running")
		c.expect(t, b, "monitor", ocf.Success, "", "--interval", "20s")
		assert.Equal(t, "10000", score(t, b), "the next monitor publishes it again")
		a.MustExec(t, `set -e; mkfs.ext4 -q -F /dev/drbd0; mkdir -p /mnt/r0; mount /dev/drbd0 /mnt/r0
head -c 4M /dev/urandom > /mnt/r0/before-cut; sync`)
	})

	t.Run("link cut: the stale side is not promoted", func(t *testing.T) {
		p.CutLink(t)
		a.WaitFor(t, 30*time.Second, `[ "$(drbdadm dstate r0)" = UpToDate/DUnknown ]`)
		b.WaitFor(t, 30*time.Second, `[ "$(drbdadm cstate r0)" != Connected ]`)
		// Pacemaker notifies b after promoting a; with
		// stop_outdates_secondary the agent marks b's data Outdated,
		// as it cannot follow a's writes any more.
		c.expect(t, b, "notify", ocf.Success, "", "stop_outdates_secondary=true",
			"--meta", "notify_type=post", "--meta", "notify_operation=promote",
			"--meta", "notify_promoted_uname=guest-a", "--meta", "notify_master_uname=guest-a")
		assert.Contains(t, drbdState(t, b), "Outdated/DUnknown")
		assert.Equal(t, "", score(t, b), "Outdated data has no promotion score")
		a.MustExec(t, "head -c 4M /dev/urandom > /mnt/r0/during-cut; sync")
		c.expect(t, a, "monitor", ocf.RunningPromoted, "", "--interval", "10s")
		assert.Equal(t, "10000", score(t, a))
		c.expect(t, b, "monitor", ocf.Success, "", "--interval", "20s")
		assert.Equal(t, "", score(t, b), "Outdated data has no promotion score")
		c.expect(t, b, "promote", ocf.ErrGeneric, "volume 0 is Outdated")
		assert.Contains(t, drbdState(t, b), "Secondary")

		p.HealLink(t)
		b.WaitFor(t, 60*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)
		c.expect(t, b, "monitor", ocf.Success, "", "--interval", "20s")
		assert.Equal(t, "10000", score(t, b))
	})

	var sum string
	t.Run("primary crash: the survivor is promoted with the data", func(t *testing.T) {
		sum = a.MustExec(t, "cd /mnt/r0 && head -c 8M /dev/urandom > crash-data && sync && md5sum before-cut during-cut crash-data")
		a.Kill(t)
		b.WaitFor(t, 30*time.Second, `[ "$(drbdadm cstate r0)" != Connected ]`)
		c.expect(t, b, "monitor", ocf.Success, "", "--interval", "20s")
		assert.Equal(t, "1000", score(t, b), "UpToDate with the peer unknown")
		c.expect(t, b, "promote", ocf.Success, "")
		assert.Equal(t, "10000", score(t, b))
		got := b.MustExec(t, "mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && cd /mnt/r0 && md5sum before-cut during-cut crash-data")
		assert.Equal(t, sum, got, "data written before the crash")

		a.Start(t)
		a.SetupCIB(t)
		c.expect(t, a, "monitor", ocf.NotRunning, "", "--probe")
		c.expect(t, a, "start", ocf.Success, "")
		a.WaitFor(t, 60*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)
		// The Primary is told of the start (it adjusts, which connects a
		// peer that came back) and republishes its score.
		c.expect(t, b, "notify", ocf.Success, "", "--meta", "notify_type=post", "--meta", "notify_operation=start",
			"--meta", "notify_start_uname=guest-a")
		assert.Equal(t, "10000", score(t, b))
		c.expect(t, a, "monitor", ocf.Success, "", "--interval", "20s")
		assert.Equal(t, "10000", score(t, a))
		c.expect(t, b, "monitor", ocf.RunningPromoted, "", "--interval", "10s")
	})

	t.Run("demote held open, then switchover", func(t *testing.T) {
		// The filesystem is still mounted: demote fails with the reason
		// before its timeout.
		r := c.expect(t, b, "demote", ocf.ErrGeneric, "held open", "--timeout", "8s")
		inTime(t, r, r.timeout, "demote overran its timeout")
		b.MustExec(t, "umount /mnt/r0")
		c.expect(t, b, "demote", ocf.Success, "")
		c.expect(t, a, "promote", ocf.Success, "")
		got := a.MustExec(t, "mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && cd /mnt/r0 && md5sum before-cut during-cut crash-data && cd / && umount /mnt/r0")
		assert.Equal(t, sum, got)
		c.expect(t, a, "demote", ocf.Success, "")
	})

	t.Run("dual primary", func(t *testing.T) {
		res.TwoPrimaries = true
		p.WriteResource(t, "r0", res.Text())
		dual := []string{"--meta", "promoted_max=2"}
		for _, g := range p.Guests() {
			c.expect(t, g, "reload", ocf.Success, "", dual...) // drbdadm adjust: allow-two-primaries online
		}
		for _, g := range p.Guests() {
			c.expect(t, g, "promote", ocf.Success, "", dual...)
		}
		for _, g := range p.Guests() {
			c.expect(t, g, "monitor", ocf.RunningPromoted, "", append([]string{"--interval", "10s"}, dual...)...)
			assert.Equal(t, "10000", score(t, g))
		}
		// Both write, to different places, and both read both.
		a.MustExec(t, "head -c 1M /dev/urandom > /run/a.bin && dd if=/run/a.bin of=/dev/drbd0 bs=1M seek=40 oflag=direct status=none")
		b.MustExec(t, "head -c 1M /dev/urandom > /run/b.bin && dd if=/run/b.bin of=/dev/drbd0 bs=1M seek=50 oflag=direct status=none")
		sums := "$(dd if=/dev/drbd0 bs=1M skip=40 count=1 iflag=direct status=none | md5sum) $(dd if=/dev/drbd0 bs=1M skip=50 count=1 iflag=direct status=none | md5sum)"
		wantA := strings.Fields(a.MustExec(t, "md5sum < /run/a.bin"))[0]
		wantB := strings.Fields(b.MustExec(t, "md5sum < /run/b.bin"))[0]
		require.NotEqual(t, wantA, wantB)
		for _, g := range p.Guests() {
			got := strings.Fields(g.MustExec(t, "echo "+sums))
			require.Len(t, got, 4, g.Name())
			assert.Equal(t, []string{wantA, wantB}, []string{got[0], got[2]}, g.Name())
		}
		// Losing one leaves the other Primary and writable.
		b.Kill(t)
		a.WaitFor(t, 30*time.Second, `[ "$(drbdadm cstate r0)" != Connected ]`)
		c.expect(t, a, "monitor", ocf.RunningPromoted, "", append([]string{"--interval", "10s"}, dual...)...)
		a.MustExec(t, "dd if=/dev/urandom of=/dev/drbd0 bs=1M seek=60 count=1 oflag=direct status=none")
	})

	t.Run("stop", func(t *testing.T) {
		c.expect(t, a, "stop", ocf.Success, "")
		assert.Equal(t, "", score(t, a), "stop removes the score")
		assert.Contains(t, drbdState(t, a), "Unconfigured")
		c.expect(t, a, "monitor", ocf.NotRunning, "", "--interval", "20s")
		c.expect(t, a, "stop", ocf.Success, "")
	})
}
