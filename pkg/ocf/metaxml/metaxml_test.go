package metaxml

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

func TestMetadataXML(t *testing.T) {
	m := ocf.Metadata{
		Name: "Test", Version: "1.0", ShortDesc: "test", LongDesc: "a test agent\n\t\tsecond line",
		Parameters: []ocf.Parameter{
			{Name: "ip", Type: ocf.TypeString, Required: true, Unique: true, ShortDesc: "ip", LongDesc: "ip"},
			{Name: "count", Type: ocf.TypeInteger, Default: "5", ShortDesc: "count", LongDesc: "a <count> & more"},
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 30 * time.Second},
			{Name: "monitor", Timeout: 15 * time.Second, Interval: 10 * time.Second, HasDepth: true},
			{Name: "notify", Timeout: 1500 * time.Millisecond},
		},
	}
	x := string(Render(m))
	for _, want := range []string{
		`<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`,
		`<resource-agent name="Test" version="1.0">`,
		`<version>1.1</version>`,
		`<parameter name="ip" unique="1" required="1">`,
		`<content type="integer" default="5"></content>`,
		`<action name="monitor" timeout="15s" interval="10s" depth="0"></action>`,
		`<action name="start" timeout="30s"></action>`,
		`<action name="notify" timeout="1500ms"></action>`,
		"<longdesc lang=\"en\">a test agent\nsecond line</longdesc>",
		`a &lt;count&gt; &amp; more`,
	} {
		assert.Contains(t, x, want)
	}
}

func TestManpage(t *testing.T) {
	m := ocf.Metadata{
		Name: "Test", ShortDesc: "a test agent", LongDesc: "First paragraph\n\t\tgoes on.\n\n\t\t.Second starts with a dot.",
		Parameters: []ocf.Parameter{
			{Name: "ip", Type: ocf.TypeString, Required: true, Unique: true, ShortDesc: "Address", LongDesc: "The address, e.g. 192.0.2.1."},
			{Name: "count", Type: ocf.TypeInteger, Default: "5", ShortDesc: "Count", LongDesc: "Count - how many."},
		},
		Actions: []ocf.ActionSpec{
			{Name: "start", Timeout: 30 * time.Second},
			{Name: "monitor", Timeout: 15 * time.Second, Interval: 10 * time.Second, HasDepth: true, Role: "Promoted"},
			{Name: "monitor", Timeout: 15 * time.Second, Interval: 11 * time.Second, HasDepth: true, Role: "Unpromoted"},
		},
	}
	page := string(Manpage(m, Page{Provider: "paceline", Version: "1.2.3", Date: "2026-11-24",
		Replaces: "ocf:heartbeat:Test",
		Examples: []ocf.Example{{Title: "Basic", PCS: "pcs resource create t ocf:paceline:Test \\\n    ip=192.0.2.1", CRM: "crm configure primitive t ocf:paceline:Test params ip=192.0.2.1"}}}))
	for _, want := range []string{
		`.TH OCF_PACELINE_TEST 7 "2026-11-24" "paceline 1.2.3" "OCF resource agents"`,
		".SH NAME\nocf_paceline_Test \\- a test agent\n",
		".B Test\n[start | monitor]\n",
		"First paragraph\ngoes on.\n.PP\n\\&.Second starts with a dot.\n",
		"A drop\\-in replacement for\n.BR ocf:heartbeat:Test :",
		".TP\n.B ip\nAddress.\n.br\nThe address, e.g. 192.0.2.1.\n.IP\n(unique, required, string)\n",
		"(optional, integer, default \"5\")",
		"Count \\- how many.",
		".B monitor (role Promoted)\n",
		"Default timeout: 15s. Suggested interval: 11s. Depth: 0.",
		".SS Basic\n",
		".nf\npcs resource create t ocf:paceline:Test \\e\n    ip=192.0.2.1\n.fi\n",
		".BR ocf_heartbeat_Test (7)\n",
	} {
		assert.Contains(t, page, want)
	}
	// A description that already says what it replaces is not repeated.
	m.LongDesc = "A drop-in\n\treplacement for ocf:heartbeat:Test."
	assert.NotContains(t, string(Manpage(m, Page{Provider: "paceline", Replaces: "ocf:heartbeat:Test"})), ".BR ocf:heartbeat:Test :")
}
