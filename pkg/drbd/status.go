package drbd

import (
	"bytes"
	"fmt"
	"strings"
)

// ParseStatus reads the output of "drbdsetup status [resource] --verbose
// --statistics" (DRBD 9, and the DRBD 8.4 utilities, which print the same
// layout) and returns every resource in it by name.
//
// The layout is indented: a resource line at column 0, its volumes and
// connections at 2, each connection's volumes at 4, and statistics
// continued on deeper lines, which belong to the object above them.
//
// The 8.4 utilities leave a StandAlone connection out of this output
// altogether (events2 shows it), so a resource read from here may lack a
// peer it has; the agent reads events2.
func ParseStatus(data []byte) (map[string]*Resource, error) {
	type object struct {
		kind string // resource, device, connection, peer-device
		kv   map[string]string
	}
	var objs []*object
	var res, conn *object
	for lineNo, raw := range bytes.Split(data, []byte{'\n'}) {
		line := strings.TrimRight(string(raw), " \t\r")
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		first := words[0]
		startsVolume := strings.HasPrefix(first, "volume:")
		var o *object
		switch {
		case indent == 0:
			// Resource names may contain ':'; column 0 is enough.
			o = &object{kind: "resource", kv: fields(words[1:])}
			o.kv["name"] = first
			res, conn = o, nil
		case res == nil:
			return nil, fmt.Errorf("status line %d: indented line before any resource", lineNo+1)
		case indent == 2 && startsVolume:
			o = &object{kind: "device", kv: fields(words)}
			conn = nil
		case indent == 2:
			if strings.Contains(first, ":") {
				return nil, fmt.Errorf("status line %d: a connection line must start with the peer's name", lineNo+1)
			}
			o = &object{kind: "connection", kv: fields(words[1:])}
			o.kv["conn-name"] = first
			conn = o
		case indent == 4 && startsVolume && conn != nil:
			o = &object{kind: "peer-device", kv: fields(words)}
			o.kv["conn-name"] = conn.kv["conn-name"]
			if id, ok := conn.kv["node-id"]; ok {
				o.kv["node-id"] = id
			}
		default: // statistics or settings continued from the object above
			last := objs[len(objs)-1]
			for k, v := range fields(words) {
				last.kv[k] = v
			}
			continue
		}
		o.kv["name"] = res.kv["name"]
		objs = append(objs, o)
	}

	out := map[string]*Resource{}
	for _, o := range objs {
		name := o.kv["name"]
		if o.kind == "connection" || o.kind == "peer-device" {
			// status names the peer's node-id "node-id"; events2 calls
			// it "peer-node-id".
			if id, ok := o.kv["node-id"]; ok {
				o.kv["peer-node-id"] = id
			}
		}
		r := out[name]
		if r == nil {
			r = &Resource{Name: name}
			out[name] = r
		}
		if err := r.apply(o.kind, o.kv); err != nil {
			return nil, fmt.Errorf("status of %s: %v", name, err)
		}
	}
	return out, nil
}
