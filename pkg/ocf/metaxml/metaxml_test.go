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
