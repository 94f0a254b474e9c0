package ocf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// Metadata describes an agent for the meta-data action. It renders to the
// subset of the OCF meta-data format that ocf-tester's ra-api-1.dtd,
// resource-agents' metadata.rng and pcs' ocf-1.1.rng all accept.
type Metadata struct {
	Name       string // agent type, e.g. "IPaddr2"
	Version    string // the agent's own version
	OCFVersion string // "1.1" unless set
	ShortDesc  string
	LongDesc   string
	Parameters []Parameter
	Actions    []ActionSpec
}

// Parameter types that every validator accepts.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
)

// Parameter is one instance parameter.
type Parameter struct {
	Name      string
	Type      string // TypeString, TypeInteger or TypeBoolean
	Default   string
	Required  bool
	Unique    bool
	ShortDesc string
	LongDesc  string
}

// ActionSpec is one advertised action with its default timeout.
type ActionSpec struct {
	Name       string
	Timeout    time.Duration
	Interval   time.Duration
	Depth      int  // rendered only when HasDepth
	HasDepth   bool // monitor and status advertise their depth
	Role       string
	StartDelay time.Duration
}

// Action returns the advertised spec of name, if any.
func (m *Metadata) Action(name string) (ActionSpec, bool) {
	for _, a := range m.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return ActionSpec{}, false
}

// Parameter returns the parameter called name, if any.
func (m *Metadata) Parameter(name string) (Parameter, bool) {
	for _, p := range m.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

type xmlDesc struct {
	Lang string `xml:"lang,attr"`
	Text string `xml:",chardata"`
}

type xmlContent struct {
	Type    string  `xml:"type,attr"`
	Default *string `xml:"default,attr"`
}

type xmlParam struct {
	Name      string     `xml:"name,attr"`
	Unique    string     `xml:"unique,attr"`
	Required  string     `xml:"required,attr"`
	LongDesc  xmlDesc    `xml:"longdesc"`
	ShortDesc xmlDesc    `xml:"shortdesc"`
	Content   xmlContent `xml:"content"`
}

type xmlAction struct {
	Name       string `xml:"name,attr"`
	Timeout    string `xml:"timeout,attr"`
	Interval   string `xml:"interval,attr,omitempty"`
	Depth      string `xml:"depth,attr,omitempty"`
	Role       string `xml:"role,attr,omitempty"`
	StartDelay string `xml:"start-delay,attr,omitempty"`
}

type xmlAgent struct {
	XMLName    xml.Name    `xml:"resource-agent"`
	Name       string      `xml:"name,attr"`
	Version    string      `xml:"version,attr"`
	OCFVersion string      `xml:"version"`
	LongDesc   xmlDesc     `xml:"longdesc"`
	ShortDesc  xmlDesc     `xml:"shortdesc"`
	Params     []xmlParam  `xml:"parameters>parameter"`
	Actions    []xmlAction `xml:"actions>action"`
}

// XML renders the metadata document, with the DOCTYPE line ocf-tester
// needs.
func (m *Metadata) XML() []byte {
	ver := m.OCFVersion
	if ver == "" {
		ver = "1.1"
	}
	doc := xmlAgent{
		Name:       m.Name,
		Version:    m.Version,
		OCFVersion: ver,
		LongDesc:   xmlDesc{"en", tidy(m.LongDesc)},
		ShortDesc:  xmlDesc{"en", tidy(m.ShortDesc)},
	}
	for _, p := range m.Parameters {
		typ := p.Type
		if typ == "" {
			typ = TypeString
		}
		def := p.Default
		doc.Params = append(doc.Params, xmlParam{
			Name:      p.Name,
			Unique:    bit(p.Unique),
			Required:  bit(p.Required),
			LongDesc:  xmlDesc{"en", tidy(p.LongDesc)},
			ShortDesc: xmlDesc{"en", tidy(p.ShortDesc)},
			Content:   xmlContent{Type: typ, Default: &def},
		})
	}
	for _, a := range m.Actions {
		xa := xmlAction{Name: a.Name, Timeout: seconds(a.Timeout), Role: a.Role}
		if a.Interval > 0 {
			xa.Interval = seconds(a.Interval)
		}
		if a.HasDepth {
			xa.Depth = fmt.Sprint(a.Depth)
		}
		if a.StartDelay > 0 {
			xa.StartDelay = seconds(a.StartDelay)
		}
		doc.Actions = append(doc.Actions, xa)
	}
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		// The document is built from plain strings; encoding cannot fail.
		panic(err)
	}
	b.WriteByte('\n')
	// encoding/xml writes newlines in text as character references; a
	// literal newline means the same in element content and reads better.
	return bytes.ReplaceAll(b.Bytes(), []byte("&#xA;"), []byte("\n"))
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// tidy removes the indentation of Go raw strings, keeping paragraphs.
func tidy(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
