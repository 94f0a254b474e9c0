package pcmk

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
)

// Mon is the part of crm_mon's XML (crm_mon -1 --output-as=xml) the
// harness reads.
type Mon struct {
	Summary struct {
		DC struct {
			Present    bool   `xml:"present,attr"`
			Name       string `xml:"name,attr"`
			WithQuorum bool   `xml:"with_quorum,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes []struct {
		Name   string `xml:"name,attr"`
		Online bool   `xml:"online,attr"`
	} `xml:"nodes>node"`
}

// Online is the number of nodes online.
func (m *Mon) Online() int {
	n := 0
	for _, x := range m.Nodes {
		if x.Online {
			n++
		}
	}
	return n
}

// xmlPart skips what a command printed before its XML.
func xmlPart(out string) string { return out[max(strings.Index(out, "<"), 0):] }

// ParseMon reads crm_mon's XML.
func ParseMon(out string) (*Mon, error) {
	m := &Mon{}
	if err := xml.Unmarshal([]byte(xmlPart(out)), m); err != nil {
		return nil, fmt.Errorf("crm_mon output: %v", err)
	}
	return m, nil
}

// Resource is one resource instance as crm_mon shows it.
type Resource struct {
	ID, Role, Node string
	Failed         bool
}

// ParseResources lists the resource instances of crm_mon -r's XML
// (clone instances and group members included).
func ParseResources(out string) []Resource {
	d := xml.NewDecoder(strings.NewReader(xmlPart(out)))
	var list []Resource
	var cur *Resource
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch se.Name.Local {
		case "resource":
			list = append(list, Resource{ID: attr("id"), Role: attr("role"), Failed: attr("failed") == "true"})
			cur = &list[len(list)-1]
		case "node":
			if cur != nil && cur.Node == "" {
				cur.Node = attr("name")
			}
		case "node_history", "failures", "fence_history":
			cur = nil
		}
	}
	return list
}

// Nobody is the node index VIPAnswerer returns, with an error, when no
// node (or none it knows) answers for the floating address: an index no
// node of either cluster has.
const Nobody = -1

var arpReply = regexp.MustCompile(`reply from [0-9.]+ \[([0-9A-Fa-f:]+)\]`)

// Answerer reads arping's output (out, and its error) for address vip
// and returns the node whose MAC answered, by macs (lower case MAC ->
// node index). When no reply came, several MACs answered, or the MAC is
// no node's, it returns Nobody and an error.
func Answerer(vip, out string, arpErr error, macs map[string]int) (int, error) {
	m := arpReply.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return Nobody, fmt.Errorf("no ARP reply for %s: %v\n%s", vip, arpErr, out)
	}
	seen := map[string]bool{}
	for _, x := range m {
		seen[strings.ToLower(x[1])] = true
	}
	if len(seen) > 1 {
		return Nobody, fmt.Errorf("%s answered from %d MACs: %s", vip, len(seen), out)
	}
	if i, ok := macs[strings.ToLower(m[0][1])]; ok {
		return i, nil
	}
	return Nobody, fmt.Errorf("%s answered from %v, no node's", vip, m[0][1])
}
