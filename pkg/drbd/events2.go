package drbd

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseEvents2 reads the output of "drbdsetup events2 --now [resource]"
// (with or without --statistics and --timestamps) and returns the state of
// the resource called name, or nil when the kernel does not know it. The
// DRBD 8.4 utilities print the same format, with 8.4's connection states
// already translated (WFConnection as Connecting).
//
// Only "exists" lines up to the closing "exists -" count; output without
// that line was cut short and is an error, so that a half-read state is
// never mistaken for a whole one.
func ParseEvents2(data []byte, name string) (*Resource, error) {
	var r *Resource
	complete := false
	for lineNo, raw := range bytes.Split(data, []byte{'\n'}) {
		f := strings.Fields(string(raw))
		if len(f) > 0 && looksLikeTimestamp(f[0]) {
			f = f[1:]
		}
		if len(f) == 0 {
			continue
		}
		if f[0] != "exists" {
			continue // change/create/destroy/call lines of a stream
		}
		if len(f) == 2 && f[1] == "-" {
			complete = true
			break
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("events2 line %d: no object", lineNo+1)
		}
		kv := fields(f[2:])
		if kv["name"] != name {
			continue
		}
		if r == nil {
			r = &Resource{Name: name}
		}
		if err := r.apply(f[1], kv); err != nil {
			return nil, fmt.Errorf("events2 line %d: %v", lineNo+1, err)
		}
	}
	if !complete {
		return nil, fmt.Errorf("events2 output ends without its closing \"exists -\" line")
	}
	if r != nil && r.Role == "" {
		// Objects of a resource that is being torn down, without the
		// resource line itself.
		return nil, nil
	}
	return r, nil
}

// looksLikeTimestamp matches the RFC 3339 stamp --timestamps prefixes.
func looksLikeTimestamp(s string) bool {
	return len(s) >= 19 && s[4] == '-' && s[7] == '-' && s[10] == 'T'
}

// fields splits key:value words at the first colon.
func fields(words []string) map[string]string {
	m := make(map[string]string, len(words))
	for _, w := range words {
		if i := strings.IndexByte(w, ':'); i > 0 {
			m[w[:i]] = w[i+1:]
		}
	}
	return m
}

// apply adds one object of events2 or status output to the state.
func (r *Resource) apply(object string, kv map[string]string) error {
	switch object {
	case "resource":
		r.Role = Role(kv["role"])
		r.Suspended = kv["suspended"]
	case "device":
		n, err := intField(kv, "volume")
		if err != nil {
			return err
		}
		v := Volume{Number: n, Minor: optInt(kv["minor"], -1), Disk: DiskState(kv["disk"]),
			Client: kv["client"] == "yes", QuorumLost: kv["quorum"] == "no"}
		r.Volumes = append(r.Volumes, v)
	case "connection":
		p := r.peer(kv)
		p.Connection = kv["connection"]
		p.Role = Role(kv["role"])
		if p.Role == "" {
			p.Role = RoleUnknown
		}
	case "peer-device":
		n, err := intField(kv, "volume")
		if err != nil {
			return err
		}
		p := r.peer(kv)
		p.Volumes = append(p.Volumes, PeerVolume{
			Number: n, Replication: kv["replication"], PeerDisk: DiskState(kv["peer-disk"]),
			PeerClient: kv["peer-client"] == "yes", OutOfSync: optInt64(kv["out-of-sync"], -1),
		})
	}
	return nil
}

// peer finds or adds the connection a line belongs to: by peer-node-id
// when given (DRBD 9 and the 8.4 utilities' events2), else by conn-name.
func (r *Resource) peer(kv map[string]string) *Peer {
	id := optInt(kv["peer-node-id"], -1)
	name := kv["conn-name"]
	for i := range r.Peers {
		p := &r.Peers[i]
		if (id >= 0 && p.NodeID == id) || (id < 0 && p.Name == name) {
			if p.Name == "" {
				p.Name = name
			}
			return p
		}
	}
	r.Peers = append(r.Peers, Peer{NodeID: id, Name: name, Role: RoleUnknown})
	return &r.Peers[len(r.Peers)-1]
}

func intField(kv map[string]string, key string) (int, error) {
	v, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("no %s", key)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s:%q is not a number", key, v)
	}
	return n, nil
}

func optInt(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

func optInt64(s string, def int64) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return def
	}
	return n
}
