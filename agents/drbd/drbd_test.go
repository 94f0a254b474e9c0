package drbd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	drbdstate "github.com/paceline-ha/paceline/pkg/drbd"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

func TestValidation(t *testing.T) {
	cases := []struct {
		name   string
		action string
		params map[string]string
		meta   map[string]string
		setup  func(f *fake)
		code   ocf.Status
		reason string
	}{
		{"valid", "validate-all", nil, nil, nil, ocf.Success, ""},
		{"no resource", "validate-all", map[string]string{"drbd_resource": ""}, nil, nil, ocf.ErrConfigured, "drbd_resource is not set"},
		{"bad resource", "start", map[string]string{"drbd_resource": "r0;rm"}, nil, nil, ocf.ErrConfigured, "drbd_resource"},
		{"bad conf", "monitor", map[string]string{"drbdconf": "/etc/drbd conf"}, nil, nil, ocf.ErrConfigured, "drbdconf"},
		{"odd remove option is false", "monitor", map[string]string{"remove_master_score_if_peer_primary": "maybe"}, nil, nil, ocf.Success, ""},
		{"empty drbdconf is the default", "validate-all", map[string]string{"drbdconf": ""}, nil, nil, ocf.Success, ""},
		{"bad version", "monitor", map[string]string{"require_drbd_module_version_ge": "eight"}, nil, nil, ocf.ErrConfigured, "require_drbd_module_version_ge"},
		{"module too old", "monitor", map[string]string{"require_drbd_module_version_ge": "9.0.0"}, nil, nil, ocf.ErrInstalled, "older than"},
		{"module too new", "monitor", map[string]string{"require_drbd_module_version_lt": "8.4.0"}, nil, nil, ocf.ErrInstalled, "not older than"},
		{"not a clone", "start", nil, with(goodMeta, "clone_max", ""), nil, ocf.ErrConfigured, "clone-max is not set"},
		{"two per node", "start", nil, with(goodMeta, "clone_node_max", "2"), nil, ocf.ErrConfigured, "clone-node-max=2"},
		{"two promoted per node", "promote", nil, with(goodMeta, "promoted_node_max", "2"), nil, ocf.ErrConfigured, "promoted-node-max=2"},
		{"three promoted", "validate-all", nil, with(goodMeta, "promoted_max", "3"), nil, ocf.ErrConfigured, "promoted-max=3"},
		{"legacy master_max", "validate-all", nil, with(goodMeta, "promoted_max", "", "master_max", "3"), nil, ocf.ErrConfigured, "promoted-max=3"},
		{"three clones on 8.4", "start", nil, with(goodMeta, "clone_max", "3"), nil, ocf.ErrConfigured, "has one peer"},
		{"three clones on 9", "validate-all", nil, with(goodMeta, "clone_max", "3"),
			func(f *fake) { f.setProc("version: 9.2.12 (api:2/proto:86-122)\n") }, ocf.Success, ""},
		{"three clones two promoted on 9", "validate-all", nil, with(goodMeta, "clone_max", "3", "promoted_max", "2"),
			func(f *fake) { f.setProc("version: 9.2.12 (api:2/proto:86-122)\n") }, ocf.ErrConfigured, "promoted-max=2"},
		{"no notify", "start", nil, with(goodMeta, "notify", ""), nil, ocf.ErrConfigured, "notify=true"},
		{"no notify ignored", "validate-all", map[string]string{"ignore_missing_notifications": "true"}, with(goodMeta, "notify", ""), nil, ocf.Success, ""},
		{"no notify, monitor", "monitor", nil, with(goodMeta, "notify", ""), func(f *fake) { f.events2 = stopped }, ocf.NotRunning, ""},
		{"no notify, validate-all", "validate-all", nil, with(goodMeta, "notify", ""), nil, ocf.Success, ""},
		{"notify start list counts", "promote", nil, with(goodMeta, "notify", "", "notify_start_uname", " "),
			func(f *fake) { f.events2 = state("Primary", "Secondary", "Connected", "UpToDate", "UpToDate") }, ocf.Success, ""},
		{"dual primary without allow", "start", nil, with(goodMeta, "promoted_max", "2"), nil, ocf.ErrConfigured, "allow-two-primaries"},
		{"dual primary allowed", "validate-all", nil, with(goodMeta, "promoted_max", "2"),
			func(f *fake) { f.dump = "resource r0 { net { allow-two-primaries yes; } }" }, ocf.Success, ""},
		{"not in config", "validate-all", nil, nil, func(f *fake) {
			f.fail["sh-dev"] = 10
			f.msg["sh-dev"] = "'r0' not defined in your config (for this host)."
		}, ocf.ErrInstalled, "not in /etc/drbd.conf"},
		{"no module", "validate-all", nil, nil, func(f *fake) { f.setProc("") }, ocf.ErrInstalled, "module not available"},
		{"module loadable", "validate-all", nil, nil, func(f *fake) {
			f.setProc("")
			require.NoError(t, os.Mkdir(filepath.Join(f.dir, "sys-module-drbd"), 0o755))
		}, ocf.Success, ""},
		{"no drbdadm", "start", nil, nil, func(f *fake) { f.noAdm = true }, ocf.ErrInstalled, "drbdadm not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
			if c.setup != nil {
				c.setup(f)
			}
			code, stderr := call(t, f, c.action, c.params, c.meta)
			assert.Equal(t, c.code, code, stderr)
			if c.reason != "" {
				assert.Contains(t, stderr, "ocf-exit-reason:")
				assert.Contains(t, stderr, c.reason)
			}
		})
	}
}

func TestMonitor(t *testing.T) {
	cases := []struct {
		name   string
		ev     string
		code   ocf.Status
		score  string // "" removed
		reason string
	}{
		{"secondary", state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate"), ocf.Success, "10000", ""},
		{"primary", state("Primary", "Secondary", "Connected", "UpToDate", "UpToDate"), ocf.RunningPromoted, "10000", ""},
		{"alone", state("Secondary", "Unknown", "Connecting", "UpToDate", "DUnknown"), ocf.Success, "1000", ""},
		{"stale", state("Secondary", "Unknown", "Connecting", "Outdated", "DUnknown"), ocf.Success, "", ""},
		{"stopped", stopped, ocf.NotRunning, "", ""},
		{"primary, disk failed, peer good", state("Primary", "Secondary", "Connected", "Diskless", "UpToDate"), ocf.RunningPromoted, "10", ""},
		{"primary, disk failed, no peer", state("Primary", "Unknown", "Connecting", "Diskless", "DUnknown"), ocf.FailedPromoted, "", "without UpToDate data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			f.attrs["master-p_drbd"] = "5"
			f.events2 = c.ev
			code, stderr := call(t, f, "monitor", nil, with(goodMeta, "interval", "20000"))
			assert.Equal(t, c.code, code, stderr)
			assert.Equal(t, c.score, f.attrs["master-p_drbd"])
			if c.reason != "" {
				assert.Contains(t, stderr, c.reason)
			}
			assert.Equal(t, 1, f.count("drbdsetup"), f.calls)
			assert.Zero(t, f.count("drbdadm"), f.calls)
		})
	}
}

func TestMonitorScoreCache(t *testing.T) {
	f := newFake(t)
	f.events2 = state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate")
	meta := with(goodMeta, "interval", "20000")
	for i := 0; i < 3; i++ {
		code, stderr := call(t, f, "monitor", nil, meta)
		require.Equal(t, ocf.Success, code, stderr)
	}
	assert.Equal(t, 1, f.count("crm_attribute"), "one write for three equal monitors: %v", f.calls)
	assert.Equal(t, "10000", f.attrs["master-p_drbd"])
	f.events2 = state("Secondary", "Unknown", "Connecting", "UpToDate", "DUnknown")
	call(t, f, "monitor", nil, meta)
	assert.Equal(t, 2, f.count("crm_attribute"))
	assert.Equal(t, "1000", f.attrs["master-p_drbd"])
	// The cache expires: the same decision is written again.
	old := filepath.Join(f.dir, "paceline-drbd-p_drbd.score")
	require.FileExists(t, old)
	past := mustTime(t, "2000-01-01T00:00:00Z")
	require.NoError(t, os.Chtimes(old, past, past))
	call(t, f, "monitor", nil, meta)
	assert.Equal(t, 3, f.count("crm_attribute"))
}

func TestProbeLeavesScore(t *testing.T) {
	f := newFake(t)
	f.attrs["master-p_drbd"] = "10000"
	f.events2 = stopped
	code, _ := call(t, f, "monitor", nil, goodMeta)
	assert.Equal(t, ocf.NotRunning, code)
	assert.Equal(t, "10000", f.attrs["master-p_drbd"], "a probe that finds it stopped leaves the score")
	assert.Zero(t, f.count("crm_attribute"))
	// Module not loaded: not running, without running anything.
	f.setProc("")
	require.NoError(t, os.Mkdir(filepath.Join(f.dir, "sys-module-drbd"), 0o755))
	f.calls = nil
	code, _ = call(t, f, "monitor", nil, goodMeta)
	assert.Equal(t, ocf.NotRunning, code)
	assert.Empty(t, f.calls)
}

func TestPromote(t *testing.T) {
	for name, c := range map[string]struct {
		events2, reason string
	}{
		"refuses stale data": {state("Secondary", "Unknown", "Connecting", "Outdated", "DUnknown"),
			"refusing to promote r0: volume 0 is Outdated"},
		"refuses with a primary peer": {state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate"),
			"the peer is Primary and promoted-max is 1"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			f.events2 = c.events2
			code, stderr := call(t, f, "promote", nil, nil)
			assert.Equal(t, ocf.ErrGeneric, code)
			assert.Contains(t, stderr, c.reason)
			assert.Zero(t, f.count("drbdadm -c /etc/drbd.conf primary"))
		})
	}
	t.Run("dual primary", func(t *testing.T) {
		f := newFake(t)
		f.dump = "resource r0 { net { allow-two-primaries; } }"
		f.events2 = state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate")
		f.onAdm = func(sub string) {
			if sub == "primary" {
				f.events2 = state("Primary", "Primary", "Connected", "UpToDate", "UpToDate")
			}
		}
		code, stderr := call(t, f, "promote", nil, with(goodMeta, "promoted_max", "2"))
		assert.Equal(t, ocf.Success, code, stderr)
		assert.Equal(t, "10000", f.attrs["master-p_drbd"])
	})
	t.Run("DRBD refuses (17) at once", func(t *testing.T) {
		f := newFake(t)
		f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
		f.fail["primary"] = 17
		f.msg["primary"] = "0: State change failed: (-2) Need access to UpToDate data"
		code, stderr := call(t, f, "promote", nil, nil)
		assert.Equal(t, ocf.ErrGeneric, code)
		assert.Contains(t, stderr, "DRBD refuses to promote r0: 0: State change failed")
		assert.Equal(t, 1, f.count("drbdadm -c /etc/drbd.conf primary"))
	})
	t.Run("bounded retries", func(t *testing.T) {
		f := newFake(t)
		f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
		f.fail["primary"] = 11
		f.msg["primary"] = "State change failed: (-1) Multiple primaries not allowed by config"
		code, stderr := call(t, f, "promote", nil, with(goodMeta, "timeout", "3000"))
		assert.Equal(t, ocf.ErrGeneric, code)
		assert.Contains(t, stderr, "Multiple primaries not allowed")
		assert.LessOrEqual(t, f.count("drbdadm -c /etc/drbd.conf primary"), drbdstate.PromoteAttempts)
	})
	t.Run("not running", func(t *testing.T) {
		f := newFake(t)
		f.events2 = stopped
		code, stderr := call(t, f, "promote", nil, nil)
		assert.Equal(t, ocf.ErrGeneric, code)
		assert.Contains(t, stderr, "not running")
	})
}

func TestDemoteStop(t *testing.T) {
	f := newFake(t)
	f.attrs["master-p_drbd"] = "10000"
	f.events2 = state("Primary", "Secondary", "Connected", "UpToDate", "UpToDate")
	f.onAdm = func(sub string) {
		switch sub {
		case "secondary":
			f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
		case "down":
			f.events2 = stopped
		}
	}
	code, stderr := call(t, f, "demote", nil, nil)
	require.Equal(t, ocf.Success, code, stderr)
	f.events2 = state("Primary", "Secondary", "Connected", "UpToDate", "UpToDate")
	code, stderr = call(t, f, "stop", nil, nil)
	require.Equal(t, ocf.Success, code, stderr)
	assert.NotContains(t, f.attrs, "master-p_drbd", "stop removes the score")
	code, _ = call(t, f, "demote", nil, nil)
	assert.Equal(t, ocf.NotRunning, code)

	t.Run("held open", func(t *testing.T) {
		f := newFake(t)
		f.events2 = state("Primary", "Secondary", "Connected", "UpToDate", "UpToDate")
		f.fail["secondary"] = 11
		f.msg["secondary"] = "0: State change failed: (-12) Device is held open by someone"
		code, stderr := call(t, f, "stop", nil, with(goodMeta, "timeout", "2500"))
		assert.Equal(t, ocf.ErrGeneric, code)
		assert.Contains(t, stderr, "r0 could not be stopped: 0: State change failed: (-12) Device is held open")
	})
	t.Run("rescue", func(t *testing.T) {
		f := newFake(t)
		f.attrs["master-p_drbd"] = "10000"
		code, stderr := call(t, f, "stop", map[string]string{"require_drbd_module_version_lt": "8.0.0"}, nil)
		assert.Equal(t, ocf.Success, code, stderr)
		assert.Equal(t, 1, f.count("drbdsetup down r0"))
		assert.NotContains(t, f.attrs, "master-p_drbd")
	})
}

func TestStart(t *testing.T) {
	f := newFake(t)
	f.events2 = stopped
	f.onAdm = func(sub string) {
		if sub == "up" {
			f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
		}
	}
	code, stderr := call(t, f, "start", nil, nil)
	require.Equal(t, ocf.Success, code, stderr)
	assert.Equal(t, "10000", f.attrs["master-p_drbd"])
	assert.Equal(t, 1, f.count("drbdadm -c /etc/drbd.conf up r0"))

	t.Run("attach fails", func(t *testing.T) {
		f := newFake(t)
		f.events2 = stopped
		f.onAdm = func(sub string) {
			if sub == "up" {
				f.events2 = state("Secondary", "Unknown", "Connecting", "Diskless", "DUnknown")
			}
		}
		code, stderr := call(t, f, "start", nil, map[string]string(with(goodMeta, "timeout", "5000")))
		assert.Equal(t, ocf.ErrGeneric, code)
		assert.Contains(t, stderr, "volume 0 has no disk (Diskless)")
	})
}

func TestNotifyOutdates(t *testing.T) {
	f := newFake(t)
	f.events2 = state("Secondary", "Unknown", "Connecting", "UpToDate", "DUnknown")
	meta := with(goodMeta, "notify_type", "post", "notify_operation", "promote", "notify_promoted_uname", "guest-b")
	f.onAdm = func(sub string) {
		if sub == "outdate" {
			f.events2 = state("Secondary", "Unknown", "Connecting", "Outdated", "DUnknown")
		}
	}
	f.attrs["master-p_drbd"] = "1000"
	code, stderr := call(t, f, "notify", map[string]string{"stop_outdates_secondary": "true"}, meta)
	assert.Equal(t, ocf.Success, code, stderr)
	assert.Equal(t, 1, f.count("drbdadm -c /etc/drbd.conf outdate r0"))
	assert.NotContains(t, f.attrs, "master-p_drbd", "the score follows the outdated data")
	// Not without the option.
	f.calls = nil
	call(t, f, "notify", nil, meta)
	assert.Zero(t, f.count("drbdadm -c /etc/drbd.conf outdate"))
}

func TestLocate(t *testing.T) {
	assert.True(t, locateShowsPromoted([]byte(`<nodes resource="p_drbd"><node state="promoted">guest-a</node></nodes>`)))
	assert.False(t, locateShowsPromoted([]byte(`<nodes resource="p_drbd"><node state="started">guest-a</node></nodes>`)))
}

func mustTime(t *testing.T, s string) (tm time.Time) {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return tm
}

func TestMessages(t *testing.T) {
	r := runResult{out: []byte("0: State change failed: (-12) Device is held open by someone\nadditional info from kernel:\nfailed to demote\nCommand 'drbdsetup-84 secondary 0' terminated with exit code 11\n")}
	assert.Equal(t, "0: State change failed: (-12) Device is held open by someone; failed to demote", r.msg())
	assert.Equal(t, "boom", runResult{err: fmt.Errorf("boom")}.msg())
}

func TestStopWithoutConfig(t *testing.T) {
	f := newFake(t)
	f.attrs["master-p_drbd"] = "10000"
	f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
	f.fail["down"] = 10
	f.msg["down"] = "'r0' not defined in your config (for this host)."
	f.onSetup = func(args []string) {
		if args[0] == "down" {
			f.events2 = stopped
		}
	}
	code, stderr := call(t, f, "stop", nil, nil)
	assert.Equal(t, ocf.Success, code, stderr)
	assert.Equal(t, 1, f.count("drbdsetup down r0"), f.calls)
	assert.NotContains(t, f.attrs, "master-p_drbd")

	// Module not loaded and no drbd-utils at all: certainly stopped.
	f = newFake(t)
	f.setProc("")
	f.attrs["master-p_drbd"] = "10000"
	sys := f.system()
	sys.lookPath = func(string) (string, error) { return "", fmt.Errorf("not found") }
	a := agentOn(sys)
	var stderr2 strings.Builder
	code = ocf.Exec(a, ocf.Invocation{Args: []string{"drbd", "stop"}, Stdout: &strings.Builder{}, Stderr: &stderr2,
		Env: []string{"OCF_RESOURCE_INSTANCE=p_drbd:0", "HA_RSCTMP=" + f.dir, "OCF_RESKEY_drbd_resource=r0"}})
	assert.Equal(t, ocf.Success, code, stderr2.String())
	assert.NotContains(t, f.attrs, "master-p_drbd")
}

func TestNoOutdateForAStoppingPrimary(t *testing.T) {
	f := newFake(t)
	f.events2 = state("Secondary", "Unknown", "Connecting", "UpToDate", "DUnknown")
	// guest-b was Primary and was fenced: post-stop lists it in both.
	meta := with(goodMeta, "notify_type", "post", "notify_operation", "stop",
		"notify_promoted_uname", "guest-b", "notify_stop_uname", "guest-b")
	code, stderr := call(t, f, "notify", map[string]string{"stop_outdates_secondary": "true"}, meta)
	assert.Equal(t, ocf.Success, code, stderr)
	assert.Zero(t, f.count("drbdadm -c /etc/drbd.conf outdate"), f.calls)
	assert.Equal(t, "1000", f.attrs["master-p_drbd"])
}

func TestProbeRewritesScore(t *testing.T) {
	f := newFake(t)
	f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
	meta := with(goodMeta, "interval", "20000")
	call(t, f, "monitor", nil, meta)
	require.Equal(t, "10000", f.attrs["master-p_drbd"])
	delete(f.attrs, "master-p_drbd") // Pacemaker restarted: transient attributes gone
	call(t, f, "monitor", nil, meta)
	assert.NotContains(t, f.attrs, "master-p_drbd", "a recurring monitor trusts the cache")
	code, _ := call(t, f, "monitor", nil, goodMeta) // the probe after the restart
	assert.Equal(t, ocf.Success, code)
	assert.Equal(t, "10000", f.attrs["master-p_drbd"])
}

func TestPromoteThroughPeer(t *testing.T) {
	// Inconsistent here during a resync from a connected UpToDate peer:
	// the data DRBD serves is current, so the promotion may go ahead.
	f := newFake(t)
	f.events2 = state("Secondary", "Secondary", "Connected", "Inconsistent", "UpToDate")
	f.onAdm = func(sub string) {
		if sub == "primary" {
			f.events2 = state("Primary", "Secondary", "Connected", "Inconsistent", "UpToDate")
		}
	}
	code, stderr := call(t, f, "promote", nil, nil)
	assert.Equal(t, ocf.Success, code, stderr)
	// Peer Primary: refused, and the score taken away.
	f = newFake(t)
	f.attrs["master-p_drbd"] = "10000"
	f.events2 = state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate")
	code, stderr = call(t, f, "promote", nil, nil)
	assert.Equal(t, ocf.ErrGeneric, code)
	assert.Contains(t, stderr, "is Primary and promoted-max is 1")
	assert.NotContains(t, f.attrs, "master-p_drbd")
}

func TestNoVolumes(t *testing.T) {
	f := newFake(t)
	f.events2 = "exists resource name:r0 role:Secondary suspended:no\nexists -\n"
	code, stderr := call(t, f, "monitor", nil, with(goodMeta, "interval", "20000"))
	assert.Equal(t, ocf.NotRunning, code, stderr)
	assert.Contains(t, stderr, "no volumes")
	code, stderr = call(t, f, "promote", nil, nil)
	assert.Equal(t, ocf.ErrGeneric, code, stderr)
	assert.Zero(t, f.count("drbdadm -c /etc/drbd.conf primary"))
}

// A peer that demotes during the grace does not use up the attempts.
func TestPromoteAfterPeerDemotes(t *testing.T) {
	f := newFake(t)
	f.events2 = state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate")
	sys := f.system()
	sys.peerPrimaryGrace = 20 * time.Second
	reads := 0
	inner := sys.run
	sys.run = func(ctx context.Context, env []string, name string, args ...string) runResult {
		if name == "drbdsetup" && args[0] == "events2" {
			reads++
			if reads == 9 { // the peer's demote arrives, after more loops than attempts
				f.events2 = state("Secondary", "Secondary", "Connected", "UpToDate", "UpToDate")
			}
		}
		return inner(ctx, env, name, args...)
	}
	f.onAdm = func(sub string) {
		if sub == "primary" {
			f.events2 = state("Primary", "Secondary", "Connected", "UpToDate", "UpToDate")
		}
	}
	a := agentOn(sys)
	var stderr strings.Builder
	env := []string{"OCF_RESOURCE_INSTANCE=p_drbd:0", "HA_RSCTMP=" + f.dir, "OCF_RESKEY_drbd_resource=r0"}
	for k, v := range goodMeta {
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+v)
	}
	code := ocf.Exec(a, ocf.Invocation{Args: []string{"drbd", "promote"}, Env: env, Stdout: &strings.Builder{}, Stderr: &stderr})
	assert.Equal(t, ocf.Success, code, stderr.String())
	assert.Equal(t, 1, f.count("drbdadm -c /etc/drbd.conf primary"))
}

// A promote whose wait for a Primary peer to demote is cut short by the
// deadline still removes this node's promotion score, with a context
// that has not ended (a helper run on an ended one is killed at once).
func TestPromoteCutShortRemovesScore(t *testing.T) {
	f := newFake(t)
	f.events2 = state("Secondary", "Primary", "Connected", "UpToDate", "UpToDate")
	f.attrs["master-p_drbd"] = "10000"
	sys := f.system()
	sys.peerPrimaryGrace = time.Minute // longer than the promote's budget
	var deleteCtxErr error
	deleted := false
	sys.attributes = func(r *ocf.Request) *ocf.Attributes {
		return &ocf.Attributes{Command: "crm_attribute", Node: r.Meta.OnNode,
			Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
				if slices.Contains(args, "--delete") {
					deleted, deleteCtxErr = true, ctx.Err()
					if ctx.Err() != nil { // as the real runner: killed at once
						return nil, ctx.Err()
					}
				}
				return f.crmAttribute(ctx, name, args...)
			}}
	}
	a := agentOn(sys)
	var stderr strings.Builder
	env := []string{"OCF_RESOURCE_INSTANCE=p_drbd:0", "HA_RSCTMP=" + f.dir, "OCF_RESKEY_drbd_resource=r0"}
	for k, v := range goodMeta {
		if k == "timeout" {
			v = "2000" // a 1.5 s budget
		}
		env = append(env, "OCF_RESKEY_CRM_meta_"+k+"="+v)
	}
	code := ocf.Exec(a, ocf.Invocation{Args: []string{"drbd", "promote"}, Env: env, Stdout: &strings.Builder{}, Stderr: &stderr})
	assert.Equal(t, ocf.ErrGeneric, code, stderr.String())
	assert.True(t, deleted, "the promotion score was not removed")
	assert.NoError(t, deleteCtxErr, "the score was removed with an ended context")
	_, left := f.attrs["master-p_drbd"]
	assert.False(t, left, "master-p_drbd is still set")
	assert.Zero(t, f.count("drbdadm -c /etc/drbd.conf primary"))
}
