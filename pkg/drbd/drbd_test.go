package drbd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// two builds a two-node resource from the columns of upstream's state
// matrix: local role, peer role, connection, local disk, peer disk.
func two(role, peerRole Role, conn string, disk, pdisk DiskState) *Resource {
	return &Resource{
		Name: "r0", Role: role, Suspended: "no",
		Volumes: []Volume{{Number: 0, Minor: 0, Disk: disk}},
		Peers: []Peer{{NodeID: 1, Name: "peer", Connection: conn, Role: peerRole,
			Volumes: []PeerVolume{{Number: 0, PeerDisk: pdisk}}}},
	}
}

// TestPromotionMatrix is ocf:linbit:drbd's state matrix (recurring monitor,
// promoted-max 1, default adjust_master_score), with its two bugs fixed:
// not running removes the score instead of setting 9999, and Attaching
// keeps the score instead of counting as UpToDate.
func TestPromotionMatrix(t *testing.T) {
	keep := Decision{Action: Keep}
	remove := Decision{Action: Remove}
	set := func(n int) Decision { return Decision{Action: Set, Score: n} }
	quorumLost := two(Secondary, Secondary, Connected, UpToDate, UpToDate)
	quorumLost.Volumes[0].QuorumLost = true
	cases := []struct {
		name string
		st   *Resource
		want Decision
	}{
		{"primary connected", two(Primary, Secondary, Connected, UpToDate, UpToDate), set(10000)},
		{"primary alone", two(Primary, RoleUnknown, "Connecting", UpToDate, DUnknown), set(10000)},
		{"dual primary", two(Primary, Primary, Connected, UpToDate, UpToDate), set(10000)},
		{"secondary of a primary", two(Secondary, Primary, Connected, UpToDate, UpToDate), set(10000)},
		{"both secondary", two(Secondary, Secondary, Connected, UpToDate, UpToDate), set(10000)},
		{"secondary alone", two(Secondary, RoleUnknown, "Connecting", UpToDate, DUnknown), set(1000)},
		{"consistent alone", two(Secondary, RoleUnknown, "Connecting", Consistent, DUnknown), remove},
		{"outdated alone", two(Secondary, RoleUnknown, "Connecting", Outdated, DUnknown), remove},
		{"sync target", two(Secondary, Primary, Connected, Inconsistent, UpToDate), set(10)},
		{"sync source", two(Secondary, Secondary, Connected, UpToDate, Inconsistent), set(10000)},
		{"inconsistent standalone", two(Secondary, RoleUnknown, "StandAlone", Inconsistent, DUnknown), remove},
		{"attaching (fixed)", two(Secondary, RoleUnknown, "Connecting", Attaching, DUnknown), keep},
		{"negotiating", two(Secondary, RoleUnknown, "Connecting", Negotiating, DUnknown), keep},
		{"diskless alone", two(Secondary, RoleUnknown, "Connecting", Diskless, DUnknown), remove},
		{"diskless with primary peer", two(Secondary, Primary, Connected, Diskless, UpToDate), set(10)},
		{"quorum lost", quorumLost, remove},
		{"not running (fixed)", nil, remove},
		{"unconfigured", &Resource{Name: "r0"}, remove},
		{"failed disk alone", two(Secondary, RoleUnknown, "Connecting", Failed, DUnknown), remove},
		{"outdated peer known uptodate but not connected", two(Secondary, RoleUnknown, "Connecting", Outdated, UpToDate), remove},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Promotion(c.st, DefaultAdjust, ScoreOptions{})
			assert.Equal(t, c.want.Action, got.Action, got.String())
			assert.Equal(t, c.want.Score, got.Score, got.String())
			assert.NotEmpty(t, got.Reason)
		})
	}
}

func TestPromotionOptions(t *testing.T) {
	st := two(Secondary, Primary, Connected, UpToDate, UpToDate)
	d := Promotion(st, DefaultAdjust, ScoreOptions{RemoveIfPeerPrimary: true})
	assert.Equal(t, Remove, d.Action, d.String())
	// The option never removes the score of the Primary itself.
	d = Promotion(two(Primary, Primary, Connected, UpToDate, UpToDate), DefaultAdjust, ScoreOptions{RemoveIfPeerPrimary: true})
	assert.Equal(t, Set, d.Action)

	adj := Adjust{OnlyConsistent: 5, OnlyRemote: 20, LocalOK: 300, Best: 4000}
	for _, c := range []struct {
		st   *Resource
		want int
	}{
		{two(Secondary, RoleUnknown, "Connecting", Consistent, DUnknown), 5},
		{two(Secondary, Primary, Connected, Inconsistent, UpToDate), 20},
		{two(Secondary, RoleUnknown, "Connecting", UpToDate, DUnknown), 300},
		{two(Primary, Secondary, Connected, UpToDate, UpToDate), 4000},
	} {
		d := Promotion(c.st, adj, ScoreOptions{})
		assert.Equal(t, Set, d.Action, d.String())
		assert.Equal(t, c.want, d.Score, d.String())
	}
	// A zero score is a removal.
	d = Promotion(two(Secondary, RoleUnknown, "Connecting", UpToDate, DUnknown), Adjust{0, 0, 0, 10}, ScoreOptions{})
	assert.Equal(t, Remove, d.Action)
}

func TestPromotionDisklessClient(t *testing.T) {
	st := two(Secondary, Primary, Connected, Diskless, UpToDate)
	st.Volumes[0].Client = true
	assert.Equal(t, Decision{Action: Set, Score: 9999}, withoutReason(Promotion(st, DefaultAdjust, ScoreOptions{})))
	st.Peers = append(st.Peers, Peer{NodeID: 2, Name: "c", Connection: "Connecting", Role: RoleUnknown,
		Volumes: []PeerVolume{{Number: 0, PeerDisk: DUnknown}}})
	assert.Equal(t, Decision{Action: Set, Score: 999}, withoutReason(Promotion(st, DefaultAdjust, ScoreOptions{})))
	st.Role = Primary
	assert.Equal(t, Decision{Action: Set, Score: 9999}, withoutReason(Promotion(st, DefaultAdjust, ScoreOptions{})))
	st.Peers[0].Connection = "Connecting"
	st.Peers[0].Volumes[0].PeerDisk = DUnknown
	assert.Equal(t, Remove, Promotion(st, DefaultAdjust, ScoreOptions{}).Action)
}

// A DRBD 9 tiebreaker (a diskless client peer) says nothing about data.
func TestClientPeersIgnored(t *testing.T) {
	st := two(Secondary, Secondary, Connected, UpToDate, UpToDate)
	st.Peers = append(st.Peers, Peer{NodeID: 2, Name: "tiebreaker", Connection: "Connecting", Role: RoleUnknown,
		Volumes: []PeerVolume{{Number: 0, PeerDisk: DUnknown, PeerClient: true}}})
	assert.False(t, st.AnyPeerDiskUnknown())
	assert.True(t, st.AllPeersAllUpToDate())
	assert.Equal(t, 10000, Promotion(st, DefaultAdjust, ScoreOptions{}).Score)
	st.Peers[1].Volumes[0].PeerClient = false
	assert.Equal(t, 1000, Promotion(st, DefaultAdjust, ScoreOptions{}).Score)
}

func TestUsable(t *testing.T) {
	r := &Resource{Name: "r0", Role: Secondary}
	assert.True(t, r.Configured())
	assert.False(t, r.Usable(), "no volumes")
	assert.True(t, two(Secondary, Secondary, Connected, UpToDate, UpToDate).Usable())
}

func withoutReason(d Decision) Decision { d.Reason = ""; return d }

func TestParseAdjust(t *testing.T) {
	a, err := ParseAdjust(" 1 2  3 4 ")
	require.NoError(t, err)
	assert.Equal(t, Adjust{1, 2, 3, 4}, a)
	for _, bad := range []string{"", "1 2 3", "1 2 3 4 5", "1 2 x 4", "1 -2 3 4", "10 2 3 4", "0 10 1000 999"} {
		a, err := ParseAdjust(bad)
		assert.Error(t, err, bad)
		assert.Equal(t, DefaultAdjust, a, bad)
	}
	a, err = ParseAdjust(DefaultAdjustString)
	require.NoError(t, err)
	assert.Equal(t, DefaultAdjust, a)
}

func TestVersions(t *testing.T) {
	v, err := ParseProcDRBD([]byte("version: 8.4.11 (api:1/proto:86-101)\nsrcversion: 21D46E5751F3882054D14CB\n"))
	require.NoError(t, err)
	assert.Equal(t, Version{8, 4, 11}, v)
	v, err = ParseProcDRBD([]byte("version: 9.2.12 (api:2/proto:86-122)\nGIT-hash: 0123 build by x\n"))
	require.NoError(t, err)
	assert.Equal(t, Version{9, 2, 12}, v)
	_, err = ParseProcDRBD([]byte("garbage\n"))
	assert.Error(t, err)
	for s, want := range map[string]Version{"8.0.0": {8, 0, 0}, "10": {10, 0, 0}, "9.1": {9, 1, 0}, "9.2.4-rc.1": {9, 2, 4}} {
		got, err := ParseVersion(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
	for _, bad := range []string{"", "x", "9.x.1", "-1"} {
		_, err := ParseVersion(bad)
		assert.Error(t, err, bad)
	}
	assert.True(t, Version{8, 4, 11}.Less(Version{9, 0, 0}))
	assert.True(t, Version{8, 4, 11}.Less(Version{8, 4, 12}))
	assert.False(t, Version{10, 0, 0}.Less(Version{10, 0, 0}))
}

func TestAllowsTwoPrimaries(t *testing.T) {
	yes := []string{
		"resource r0 {\n net {\n  protocol C;\n  allow-two-primaries yes;\n }\n}\n",
		"resource r0 { net { allow-two-primaries; } }",
		"resource r0 {\n    net {\n        allow-two-primaries yes;\n    }\n}",
	}
	no := []string{
		"resource r0 {\n net {\n  protocol C;\n }\n}\n",
		"resource r0 {\n net {\n  # allow-two-primaries yes;\n }\n}\n",
		"resource r0 { net { allow-two-primaries no; } }",
	}
	for _, s := range yes {
		assert.True(t, AllowsTwoPrimaries([]byte(s)), s)
	}
	for _, s := range no {
		assert.False(t, AllowsTwoPrimaries([]byte(s)), s)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", path))
	require.NoError(t, err)
	return data
}

func TestEvents2DRBD9(t *testing.T) {
	r, err := ParseEvents2(read(t, "9/events2-primary-3node.txt"), "r0")
	require.NoError(t, err)
	require.NotNil(t, r)
	assert.Equal(t, Primary, r.Role)
	require.Len(t, r.Volumes, 2)
	require.Len(t, r.Peers, 2)
	assert.Equal(t, "bravo", r.Peers[1].Name)
	assert.Equal(t, 2, r.Peers[1].NodeID)
	assert.Equal(t, Inconsistent, r.Peers[1].Volumes[0].PeerDisk)
	assert.Equal(t, "SyncSource", r.Peers[1].Volumes[0].Replication)
	assert.True(t, r.SomePeerAllUpToDate())
	assert.False(t, r.AllPeersAllUpToDate())
	assert.Equal(t, Decision{Action: Set, Score: 10000}, withoutReason(Promotion(r, DefaultAdjust, ScoreOptions{})))

	r, err = ParseEvents2(read(t, "9/events2-quorum-lost.txt"), "r0")
	require.NoError(t, err)
	assert.True(t, r.QuorumLost())
	assert.Equal(t, Remove, Promotion(r, DefaultAdjust, ScoreOptions{}).Action)

	r, err = ParseEvents2(read(t, "9/events2-diskless-client.txt"), "r0")
	require.NoError(t, err)
	assert.True(t, r.DisklessClient())
	assert.Equal(t, "alpha", r.PeerPrimary())
	assert.Equal(t, Decision{Action: Set, Score: 9999}, withoutReason(Promotion(r, DefaultAdjust, ScoreOptions{})))
	r1, err := ParseEvents2(read(t, "9/events2-diskless-client.txt"), "r1")
	require.NoError(t, err)
	assert.True(t, r1.IsPrimary())
	assert.Empty(t, r1.Peers)
	none, err := ParseEvents2(read(t, "9/events2-diskless-client.txt"), "r2")
	require.NoError(t, err)
	assert.Nil(t, none)

	r, err = ParseEvents2(read(t, "9/events2-attaching.txt"), "r0")
	require.NoError(t, err)
	assert.Equal(t, Keep, Promotion(r, DefaultAdjust, ScoreOptions{}).Action)
}

func TestEvents2Truncated(t *testing.T) {
	full := read(t, "9/events2-primary-3node.txt")
	cut := full[:len(full)-len("exists -\n")]
	_, err := ParseEvents2(cut, "r0")
	assert.Error(t, err)
	_, err = ParseEvents2(nil, "r0")
	assert.Error(t, err)
	_, err = ParseEvents2([]byte("exists device name:r0 volume:x minor:0 disk:UpToDate\nexists -\n"), "r0")
	assert.Error(t, err)
	// Objects of another resource are never mixed in.
	r, err := ParseEvents2([]byte("exists resource name:r00 role:Primary\nexists -\n"), "r0")
	assert.NoError(t, err)
	assert.Nil(t, r)
}

func TestStatusDRBD9(t *testing.T) {
	all, err := ParseStatus(read(t, "9/status-primary-3node.txt"))
	require.NoError(t, err)
	require.Len(t, all, 2)
	r := all["r0"]
	assert.Equal(t, Primary, r.Role)
	require.Len(t, r.Volumes, 2)
	require.Len(t, r.Peers, 2)
	assert.Equal(t, "alpha", r.Peers[0].Name)
	assert.Equal(t, 1, r.Peers[0].NodeID)
	assert.Equal(t, Connected, r.Peers[0].Connection)
	assert.Equal(t, int64(802140), r.Peers[1].Volumes[0].OutOfSync)
	assert.Equal(t, "SyncSource", r.Peers[1].Volumes[0].Replication)
	r1 := all["r1"]
	assert.Equal(t, Outdated, r1.Volumes[0].Disk)
	assert.Equal(t, "StandAlone", r1.Peers[0].Connection)
	assert.Equal(t, Remove, Promotion(r1, DefaultAdjust, ScoreOptions{}).Action)

	// status and events2 describe the same state the same way.
	ev, err := ParseEvents2(read(t, "9/events2-primary-3node.txt"), "r0")
	require.NoError(t, err)
	assert.Equal(t, stripStats(ev), stripStats(r))

	_, err = ParseStatus([]byte("  volume:0 disk:UpToDate\n"))
	assert.Error(t, err)
	odd, err := ParseStatus([]byte("r:0 role:Primary suspended:no\n  volume:0 minor:0 disk:UpToDate\n"))
	require.NoError(t, err)
	assert.Equal(t, Primary, odd["r:0"].Role)
}

// stripStats drops what only one of the two formats carries.
func stripStats(r *Resource) *Resource {
	c := *r
	c.Peers = append([]Peer(nil), r.Peers...)
	for i := range c.Peers {
		c.Peers[i].Volumes = append([]PeerVolume(nil), c.Peers[i].Volumes...)
		for j := range c.Peers[i].Volumes {
			c.Peers[i].Volumes[j].OutOfSync = 0
		}
	}
	return &c
}

func TestSummary(t *testing.T) {
	s := two(Primary, Secondary, Connected, UpToDate, UpToDate).Summary()
	assert.True(t, strings.HasPrefix(s, "Primary, disk UpToDate, peer peer Connected Secondary UpToDate"), s)
	var none *Resource
	assert.Equal(t, "not configured", none.Summary())
}
