package drbd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCaptured84 parses what real DRBD 8.4.11 (drbd-utils 9.22) printed in
// two qemu guests, state by state (testdata/84, made by the capture test
// in tests/drbdguest), and checks the state, the score decision, and that
// events2 and status agree.
func TestCaptured84(t *testing.T) {
	type want struct {
		role     Role
		disk     DiskState
		conn     string
		peerRole Role
		pdisk    DiskState
		action   ScoreAction
		score    int
	}
	cases := map[string]map[string]*want{
		"01-module-loaded-resource-down": {"guest-a": nil, "guest-b": nil},
		"02-connected-secondary-secondary": {
			"guest-a": {Secondary, UpToDate, Connected, Secondary, UpToDate, Set, 10000},
			"guest-b": {Secondary, UpToDate, Connected, Secondary, UpToDate, Set, 10000},
		},
		"03-connected-primary-secondary": {
			"guest-a": {Primary, UpToDate, Connected, Secondary, UpToDate, Set, 10000},
			"guest-b": {Secondary, UpToDate, Connected, Primary, UpToDate, Set, 10000},
		},
		"04-link-cut-primary-wfconnection": {
			"guest-a": {Primary, UpToDate, "Connecting", RoleUnknown, DUnknown, Set, 10000},
			"guest-b": {Secondary, UpToDate, "Connecting", RoleUnknown, DUnknown, Set, 1000},
		},
		"05-link-cut-peer-outdated": {
			"guest-a": {Primary, UpToDate, "Connecting", RoleUnknown, DUnknown, Set, 10000},
			"guest-b": {Secondary, Outdated, "Connecting", RoleUnknown, DUnknown, Remove, 0},
		},
		"06-resync-source-target": {
			"guest-a": {Primary, UpToDate, Connected, Secondary, Inconsistent, Set, 10000},
			"guest-b": {Secondary, Inconsistent, Connected, Primary, UpToDate, Set, 10},
		},
		"07-peer-detached-diskless": {
			"guest-a": {Primary, UpToDate, Connected, Secondary, Diskless, Set, 10000},
			"guest-b": {Secondary, Diskless, Connected, Primary, UpToDate, Set, 10},
		},
		"08-peer-standalone": {
			"guest-a": {Primary, UpToDate, "Connecting", RoleUnknown, DUnknown, Set, 10000},
			"guest-b": {Secondary, UpToDate, "StandAlone", RoleUnknown, DUnknown, Set, 1000},
		},
		"09-dual-primary": {
			"guest-a": {Primary, UpToDate, Connected, Primary, UpToDate, Set, 10000},
			"guest-b": {Primary, UpToDate, Connected, Primary, UpToDate, Set, 10000},
		},
	}
	for state, guests := range cases {
		for guest, w := range guests {
			t.Run(state+"/"+guest, func(t *testing.T) {
				dir := filepath.Join("testdata", "84", state, guest)
				ev := must(t, filepath.Join(dir, "events2-now-r0.txt"))
				r, err := ParseEvents2(ev, "r0")
				require.NoError(t, err)
				v, err := ParseProcDRBD(must(t, filepath.Join(dir, "proc-drbd.txt")))
				require.NoError(t, err)
				assert.Equal(t, Version{8, 4, 11}, v)
				if w == nil {
					assert.Nil(t, r)
					assert.Equal(t, Remove, Promotion(r, DefaultAdjust, ScoreOptions{}).Action)
					return
				}
				require.NotNil(t, r)
				assert.Equal(t, w.role, r.Role)
				require.Len(t, r.Volumes, 1)
				assert.Equal(t, w.disk, r.Volumes[0].Disk)
				require.Len(t, r.Peers, 1)
				assert.Equal(t, w.conn, r.Peers[0].Connection)
				assert.Equal(t, w.peerRole, r.Peers[0].Role)
				require.Len(t, r.Peers[0].Volumes, 1)
				assert.Equal(t, w.pdisk, r.Peers[0].Volumes[0].PeerDisk)
				d := Promotion(r, DefaultAdjust, ScoreOptions{})
				assert.Equal(t, w.action, d.Action, d.String())
				assert.Equal(t, w.score, d.Score, d.String())

				// events2 --statistics and status --verbose --statistics
				// say the same.
				for _, f := range []string{"events2-now-statistics-r0.txt"} {
					if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
						rs, err := ParseEvents2(data, "r0")
						require.NoError(t, err, f)
						assert.Equal(t, stripStats(r), stripStats(rs), f)
					}
				}
				all, err := ParseStatus(must(t, filepath.Join(dir, "status-verbose-statistics-r0.txt")))
				require.NoError(t, err)
				st := all["r0"]
				require.NotNil(t, st)
				assert.Equal(t, r.Role, st.Role)
				assert.Equal(t, r.Volumes, st.Volumes)
				if w.conn == "StandAlone" {
					// 8.4's status leaves out a StandAlone connection.
					assert.Empty(t, st.Peers)
				} else {
					require.Len(t, st.Peers, 1)
					assert.Equal(t, r.Peers[0].Connection, st.Peers[0].Connection)
					assert.Equal(t, r.Peers[0].Role, st.Peers[0].Role)
					assert.Equal(t, r.Peers[0].Volumes[0].PeerDisk, st.Peers[0].Volumes[0].PeerDisk)
					assert.GreaterOrEqual(t, st.Peers[0].Volumes[0].OutOfSync, int64(0))
				}
			})
		}
	}
}

func must(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestCapturedDump84(t *testing.T) {
	single := must(t, "testdata/84/02-connected-secondary-secondary/guest-a/drbdadm-dump-r0.txt")
	assert.False(t, AllowsTwoPrimaries(single))
	dual := must(t, "testdata/84/09-dual-primary/guest-a/drbdadm-dump-r0.txt")
	assert.True(t, AllowsTwoPrimaries(dual))
}

func FuzzParsers(f *testing.F) {
	for _, p := range []string{"testdata/9/events2-primary-3node.txt", "testdata/9/status-primary-3node.txt",
		"testdata/84/06-resync-source-target/guest-b/events2-now-r0.txt"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseEvents2(data, "r0")
		if err == nil {
			_ = Promotion(r, DefaultAdjust, ScoreOptions{})
			_ = r.Summary()
		}
		all, err := ParseStatus(data)
		if err == nil {
			for _, r := range all {
				_ = Promotion(r, DefaultAdjust, ScoreOptions{RemoveIfPeerPrimary: true})
			}
		}
		_ = AllowsTwoPrimaries(data)
		_, _ = ParseProcDRBD(data)
	})
}
