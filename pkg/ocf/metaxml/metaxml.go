// Package metaxml renders agent metadata (ocf.Metadata) to OCF meta-data
// XML. It serves "make metadata" and the tests; the paceline binary serves
// the committed files and does not link an XML encoder.
package metaxml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

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

// Render renders the metadata document, with the DOCTYPE line ocf-tester
// needs.
func Render(m ocf.Metadata) []byte {
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
			typ = ocf.TypeString
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
		// Only plain strings go in; encoding cannot fail.
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
