// Package drbd is the DRBD state model of ocf:paceline:drbd: parsers for
// what drbdsetup prints (events2 --now, status --verbose --statistics,
// for the DRBD 8.4 and DRBD 9 kernel modules alike), a typed state per
// volume and peer, the promotion decision as a pure function of that
// state, and the rules of the agent's retrying actions (promote, demote,
// stop: loop.go) as pure functions of the state and of what the action
// did so far. Nothing here runs a program, reads a file or waits.
package drbd

import "strings"

// Role is a node's role for a resource, its own or a peer's.
type Role string

// Roles.
const (
	Primary     Role = "Primary"
	Secondary   Role = "Secondary"
	RoleUnknown Role = "Unknown"
)

// DiskState is a local or peer disk state.
type DiskState string

// Disk states, in DRBD's spelling.
const (
	Diskless     DiskState = "Diskless"
	Attaching    DiskState = "Attaching"
	Detaching    DiskState = "Detaching"
	Failed       DiskState = "Failed"
	Negotiating  DiskState = "Negotiating"
	Inconsistent DiskState = "Inconsistent"
	Outdated     DiskState = "Outdated"
	DUnknown     DiskState = "DUnknown"
	Consistent   DiskState = "Consistent"
	UpToDate     DiskState = "UpToDate"
)

// Transitional reports a disk state DRBD passes through on its way to a
// settled one (attaching a backing device, negotiating with a peer).
func (d DiskState) Transitional() bool { return d == Attaching || d == Negotiating }

// Known reports whether the state says anything about the data: not
// DUnknown and not empty.
func (d DiskState) Known() bool { return d != "" && d != DUnknown }

// Connected is the connection state of an established link. DRBD 8.4's
// own words (WFConnection, SyncSource, ...) mix connection and
// replication states; the parsers split them the way DRBD 9 reports
// them, so that one model serves both.
const Connected = "Connected"

// Volume is one local volume (a DRBD minor).
type Volume struct {
	Number int
	Minor  int
	Disk   DiskState
	Client bool // DRBD 9: intentionally diskless (client:yes)
	// QuorumLost is DRBD 9's quorum:no. DRBD 8.4 has no quorum.
	QuorumLost bool
}

// PeerVolume is one volume as seen over one connection.
type PeerVolume struct {
	Number      int
	Replication string    // Off, Established, SyncSource, SyncTarget, ...
	PeerDisk    DiskState // the peer's disk as this node knows it
	PeerClient  bool      // DRBD 9: the peer is intentionally diskless
	OutOfSync   int64     // KiB, when statistics were asked for; -1 unknown
}

// Peer is one connection.
type Peer struct {
	NodeID     int    // -1 when not reported (DRBD 8.4 status)
	Name       string // conn-name, the peer's host name in the config
	Connection string // Connected, Connecting, StandAlone, ...
	Role       Role
	Volumes    []PeerVolume
}

// Resource is the state of one DRBD resource on this node.
type Resource struct {
	Name      string
	Role      Role
	Suspended string // "no", or why I/O is suspended (user, no-data, fencing, quorum)
	Volumes   []Volume
	Peers     []Peer
}

// Configured reports whether the resource exists in the kernel with a
// role, which is what "running" means for the agent.
func (r *Resource) Configured() bool {
	return r != nil && (r.Role == Primary || r.Role == Secondary)
}

// Usable reports whether the resource is configured with at least one
// volume: a resource left without devices by a partial bring-up exists in
// the kernel (stop must take it down) but serves nothing.
func (r *Resource) Usable() bool { return r.Configured() && len(r.Volumes) > 0 }

// IsPrimary reports whether this node is Primary.
func (r *Resource) IsPrimary() bool { return r != nil && r.Role == Primary }

// PeerPrimary returns the name of a peer that is Primary, or "".
func (r *Resource) PeerPrimary() string {
	for _, p := range r.Peers {
		if p.Role == Primary {
			if p.Name == "" {
				return "peer"
			}
			return p.Name
		}
	}
	return ""
}

// AllPeersConnected reports whether the resource has peers and every one
// is connected.
func (r *Resource) AllPeersConnected() bool {
	if r == nil || len(r.Peers) == 0 {
		return false
	}
	for _, p := range r.Peers {
		if p.Connection != Connected {
			return false
		}
	}
	return true
}

// AllLocalUpToDate reports whether every local volume is UpToDate. A
// resource without volumes has no local data.
func (r *Resource) AllLocalUpToDate() bool {
	return r.everyVolume(func(v Volume) bool { return v.Disk == UpToDate })
}

// AllLocalConsistent reports whether every local volume holds data that
// is consistent in itself (Consistent or UpToDate).
func (r *Resource) AllLocalConsistent() bool {
	return r.everyVolume(func(v Volume) bool { return v.Disk == UpToDate || v.Disk == Consistent })
}

// Transitional reports whether a local volume is attaching or negotiating.
func (r *Resource) Transitional() bool {
	for _, v := range r.Volumes {
		if v.Disk.Transitional() {
			return true
		}
	}
	return false
}

// DisklessClient reports whether this node is an intentional diskless
// client for every volume (DRBD 9).
func (r *Resource) DisklessClient() bool {
	return r.everyVolume(func(v Volume) bool { return v.Client })
}

// everyVolume reports whether the resource has volumes and ok holds for
// each: a resource without volumes has no local data to speak for.
func (r *Resource) everyVolume(ok func(Volume) bool) bool {
	if len(r.Volumes) == 0 {
		return false
	}
	for _, v := range r.Volumes {
		if !ok(v) {
			return false
		}
	}
	return true
}

// QuorumLost reports whether any volume lost quorum (DRBD 9).
func (r *Resource) QuorumLost() bool {
	for _, v := range r.Volumes {
		if v.QuorumLost {
			return true
		}
	}
	return false
}

// clientPeer reports a peer that is an intentional diskless client for
// every volume (a DRBD 9 tiebreaker): it holds no data, so its disk states
// say nothing about where current data is.
func clientPeer(p Peer) bool {
	if len(p.Volumes) == 0 {
		return false
	}
	for _, v := range p.Volumes {
		if !v.PeerClient {
			return false
		}
	}
	return true
}

// AnyPeerDiskUnknown reports whether this node does not know the disk of
// some peer volume (the peer is disconnected, or not yet negotiated).
// Diskless client peers do not count.
func (r *Resource) AnyPeerDiskUnknown() bool {
	for _, p := range r.Peers {
		if clientPeer(p) {
			continue
		}
		if len(p.Volumes) == 0 {
			return true
		}
		for _, v := range p.Volumes {
			if !v.PeerDisk.Known() {
				return true
			}
		}
	}
	return false
}

// peerAllUpToDate reports whether a connected peer has every volume this
// node has UpToDate.
func (r *Resource) peerAllUpToDate(p Peer) bool {
	if p.Connection != Connected || len(p.Volumes) == 0 {
		return false
	}
	for _, lv := range r.Volumes {
		pv, ok := p.volume(lv.Number)
		if !ok || pv.PeerDisk != UpToDate {
			return false
		}
	}
	return true
}

// SomePeerAllUpToDate reports whether some connected peer has all the
// resource's data UpToDate.
func (r *Resource) SomePeerAllUpToDate() bool {
	for _, p := range r.Peers {
		if r.peerAllUpToDate(p) {
			return true
		}
	}
	return false
}

// AllPeersAllUpToDate reports whether every peer that holds data is
// connected with all of it UpToDate (diskless client peers do not count).
// False without such peers.
func (r *Resource) AllPeersAllUpToDate() bool {
	n := 0
	for _, p := range r.Peers {
		if clientPeer(p) {
			continue
		}
		if !r.peerAllUpToDate(p) {
			return false
		}
		n++
	}
	return n > 0
}

// NoUpToDateData returns the local volumes whose data this node cannot
// reach in an UpToDate copy: neither its own disk nor a connected peer's
// is UpToDate. A Primary with such a volume fails its I/O.
func (r *Resource) NoUpToDateData() []int {
	var bad []int
	for _, lv := range r.Volumes {
		if lv.Disk == UpToDate {
			continue
		}
		ok := false
		for _, p := range r.Peers {
			if pv, found := p.volume(lv.Number); found && p.Connection == Connected && pv.PeerDisk == UpToDate {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, lv.Number)
		}
	}
	return bad
}

func (p Peer) volume(n int) (PeerVolume, bool) {
	for _, v := range p.Volumes {
		if v.Number == n {
			return v, true
		}
	}
	return PeerVolume{}, false
}

// Summary is a short description for logs and exit reasons, such as
// "Primary, disk UpToDate, peer guest-b Connected Secondary UpToDate".
func (r *Resource) Summary() string {
	if r == nil || !r.Configured() {
		return "not configured"
	}
	var b strings.Builder
	b.WriteString(string(r.Role))
	b.WriteString(", disk ")
	for i, v := range r.Volumes {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(string(v.Disk))
	}
	for _, p := range r.Peers {
		b.WriteString(", peer ")
		if p.Name != "" {
			b.WriteString(p.Name)
			b.WriteByte(' ')
		}
		b.WriteString(p.Connection)
		b.WriteByte(' ')
		b.WriteString(string(p.Role))
		for i, v := range p.Volumes {
			if i == 0 {
				b.WriteByte(' ')
			} else {
				b.WriteByte('/')
			}
			b.WriteString(string(v.PeerDisk))
		}
	}
	return b.String()
}
