package fenceipmilan

import (
	"bufio"
	"encoding/xml"
	"errors"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/fence"
)

type param struct {
	Name       string `xml:"name,attr"`
	Deprecated string `xml:"deprecated,attr"`
	Content    struct {
		Type    string `xml:"type,attr"`
		Default string `xml:"default,attr"`
	} `xml:"content"`
}

type metadataDoc struct {
	Name    string  `xml:"name,attr"`
	Params  []param `xml:"parameters>parameter"`
	Actions []struct {
		Name string `xml:"name,attr"`
	} `xml:"actions>action"`
}

func parseMetadata(t *testing.T, b []byte) metadataDoc {
	t.Helper()
	var d metadataDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func line(p param) string {
	def := p.Content.Default
	if def == "" {
		def = "-"
	}
	s := p.Name + " " + p.Content.Type + " " + def
	if p.Deprecated == "1" {
		s += " deprecated"
	}
	return s
}

// TestSameParametersAsUpstream compares every parameter (name, type,
// default, deprecated) and the advertised actions with fence_ipmilan's
// metadata (testdata/upstream-params.txt, taken from fence-agents 4.12.1).
func TestSameParametersAsUpstream(t *testing.T) {
	f, err := os.Open("testdata/upstream-params.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []string
	var wantActions string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "#") || l == "":
		case strings.HasPrefix(l, "actions "):
			wantActions = strings.TrimPrefix(l, "actions ")
		default:
			want = append(want, l)
		}
	}
	d := parseMetadata(t, Agent().RenderMetadata())
	var got, actions []string
	for _, p := range d.Params {
		got = append(got, line(p))
	}
	for _, a := range d.Actions {
		actions = append(actions, a.Name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parameters differ from upstream:\n got  %q\n want %q", got, want)
	}
	if strings.Join(actions, " ") != wantActions {
		t.Errorf("actions %q, want %q (list must stay unadvertised)", actions, wantActions)
	}
}

func TestAliasDefaults(t *testing.T) {
	want := map[string][2]string{ // lanplus, power_wait
		Name: {"0", "2"}, "fence_paceline_ipmilanplus": {"1", "2"}, "fence_paceline_ilo3": {"1", "4"},
		"fence_paceline_ilo4": {"1", "2"}, "fence_paceline_ilo5": {"1", "2"},
		"fence_paceline_imm": {"0", "2"}, "fence_paceline_idrac": {"0", "2"},
	}
	if len(Names()) != len(want) {
		t.Errorf("names %v", Names())
	}
	for _, n := range Names() {
		d := parseMetadata(t, Agent().As(n).RenderMetadata())
		if d.Name != n {
			t.Errorf("%s: metadata name %q", n, d.Name)
		}
		got := [2]string{}
		for _, p := range d.Params {
			switch p.Name {
			case "lanplus":
				got[0] = p.Content.Default
			case "power_wait":
				got[1] = p.Content.Default
			}
		}
		if got != want[n] {
			t.Errorf("%s: lanplus, power_wait defaults %v, want %v", n, got, want[n])
		}
	}
}

func opts(t *testing.T, stdin string) *fence.Options {
	t.Helper()
	o, err := fence.Parse(Agent().Options, nil, strings.NewReader(stdin))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestConfig(t *testing.T) {
	tests := []struct {
		stdin string
		err   string
		check func(t *testing.T, c Config)
	}{
		{stdin: "ip=192.0.2.5\n", check: func(t *testing.T, c Config) {
			if c.Lanplus || c.Ciphers != nil || c.Port != 623 || c.Priv != "administrator" || c.Timeout != 2*time.Second || c.Retries != 1 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{stdin: "ip=192.0.2.5\nlanplus=1\n", check: func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c.Ciphers, []int{17, 3}) || c.ToolReason() != "" {
				t.Errorf("lanplus without cipher: %v %q", c.Ciphers, c.ToolReason())
			}
		}},
		{stdin: "ipaddr=192.0.2.5\nlanplus=1\ncipher=3\nprivlvl=OPERATOR\nipmitool_timeout=0.5\n", check: func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c.Ciphers, []int{3}) || c.Priv != "operator" || c.Timeout != 500*time.Millisecond {
				t.Errorf("%+v", c)
			}
		}},
		{stdin: "port_as_ip=1\nplug=192.0.2.9\n", check: func(t *testing.T, c Config) {
			if c.Host != "192.0.2.9" {
				t.Errorf("host %q", c.Host)
			}
		}},
		{stdin: "port=nodeA\n", err: "no BMC address"},
		{stdin: "ip=192.0.2.5\nipport=99999\n", err: "not a UDP port"},
		{stdin: "ip=192.0.2.5\ncipher=abc\n", err: "not an IPMI cipher suite"},
		{stdin: "ip=192.0.2.5\ncipher=42\n", err: "not an IPMI cipher suite"},
		{stdin: "ip=192.0.2.5\nipmitool_timeout=soon\n", err: "ipmitool_timeout"},
		{stdin: "ip=192.0.2.5\nusername=aVeryLongUserNameOver16\n", err: "16 characters"},
		{stdin: "ip=192.0.2.5\nhexadecimal_kg=zz11\n", err: "hexadecimal"},
		{stdin: "ip=192.0.2.5\nhexadecimal_kg=41004200\n", err: "zero byte inside"},
		{stdin: "ip=192.0.2.5\nhexadecimal_kg=4b4700\n", check: func(t *testing.T, c Config) {
			if string(c.Kg) != "KG" || c.ToolReason() == "" {
				t.Errorf("kg %q reason %q", c.Kg, c.ToolReason())
			}
		}},
	}
	for _, tt := range tests {
		c, err := configOf(opts(t, tt.stdin))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.stdin, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.stdin, err)
			continue
		}
		tt.check(t, c)
	}
}

func TestToolReason(t *testing.T) {
	base := "ip=192.0.2.5\nlanplus=1\n"
	for stdin, want := range map[string]string{
		base:                           "",
		base + "cipher=17\n":           "",
		base + "cipher=3\n":            "",
		base + "cipher=1\n":            "cipher suite 1",
		base + "cipher=2\n":            "cipher suite 2",
		base + "auth=md5\n":            "authentication type",
		base + "target=0x82\n":         "bridging",
		base + "hexadecimal_kg=4b47\n": "Kg key",
		"ip=192.0.2.5\ncipher=1\n":     "", // IPMI 1.5 has no cipher suites
	} {
		c, err := configOf(opts(t, stdin))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.ToolReason(); want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%q: reason %q, want %q", stdin, got, want)
		}
	}
}

func TestToolArgsKeepSecretsOff(t *testing.T) {
	c, err := configOf(opts(t, "ip=192.0.2.5\nipport=16623\nusername=admin\npassword=TopSecret1\nlanplus=1\n"+
		"hexadecimal_kg=4b4731\nprivlvl=operator\nauth=md5\ntarget=0x82\nverbose_level=3\n"))
	if err != nil {
		t.Fatal(err)
	}
	tl := &tool{cfg: c, password: "TopSecret1"}
	got := strings.Join(tl.args("chassis", "power", "status"), " ")
	want := "-I lanplus -H 192.0.2.5 -p 16623 -t 0x82 -U admin -A MD5 -E -C 3 -L OPERATOR -K -N 2 -R 2 chassis power status -vv"
	if got != want {
		t.Errorf("args\n got  %s\n want %s", got, want)
	}
	if strings.Contains(got, "TopSecret1") || strings.Contains(got, "KG1") || strings.Contains(got, "4b4731") {
		t.Error("a secret is on the command line")
	}
}

func TestClassify(t *testing.T) {
	c := Config{Host: "192.0.2.5", Port: 623, User: "op", Priv: "administrator", Timeout: 2 * time.Second, Retries: 1,
		Lanplus: true, Ciphers: []int{17, 3}}
	tests := []struct {
		err     error
		code    uint8
		hasCode bool
		auth    bool
		lan15   bool
		want    string
	}{
		{err: errors.New("RAKP2 authentication code mismatch"), want: "authentication failed: wrong username"},
		{err: errors.New("x"), auth: true, want: "authentication failed"},
		{err: errors.New("Error: Unable to establish IPMI v2 / RMCP+ session\nRAKP 2 HMAC is invalid"), want: "authentication failed"},
		{err: errors.New("ActivateSession failed: no datagram matched before deadline"), lan15: true, want: "did not activate the IPMI 1.5 session"},
		{err: errors.New("RMCP+ Open Session failed with cipher suite id (17)"), want: "cipher suite refused: the BMC at 192.0.2.5:623 does not accept cipher 17 or 3"},
		{err: errors.New("read udp: connection refused"), want: "BMC not answering: nothing listens at 192.0.2.5:623"},
		{err: errors.New("udp exchange: no datagram matched before deadline"), want: "BMC not answering: no reply from 192.0.2.5:623 within 2s, 2 attempts"},
		{err: errors.New("cc: 0xd4"), code: 0xd4, hasCode: true, want: "insufficient privilege: user \"op\""},
		{err: errors.New("Set Chassis Power Control to Down/Off failed: Insufficient privilege level"), want: "insufficient privilege"},
		{err: errors.New("cc: 0x81"), code: 0x81, hasCode: true, want: "privilege level administrator not allowed"},
		{err: errors.New("cc: 0xcc"), code: 0xcc, hasCode: true, want: "refused"},
	}
	for _, tt := range tests {
		cc := c
		if tt.lan15 {
			cc.Lanplus = false
		}
		got := classify(cc, "op", tt.err, tt.code, tt.hasCode, tt.auth).Error()
		if !strings.HasPrefix(got, tt.want) && !strings.Contains(got, tt.want) {
			t.Errorf("classify(%q) = %q, want %q", tt.err, got, tt.want)
		}
		if strings.Contains(got, "\n") {
			t.Errorf("classify(%q) has a newline: %q", tt.err, got)
		}
	}
}

func TestParsePowerStatus(t *testing.T) {
	for out, want := range map[string][2]bool{
		"Chassis Power is on\n":                {true, true},
		"Chassis Power is off\n":               {false, true},
		"chassis power is  ON":                 {true, true},
		"Unable to get Chassis Power Status\n": {false, false},
		"":                                     {false, false},
	} {
		on, ok := parsePowerStatus(out)
		if [2]bool{on, ok} != want {
			t.Errorf("%q: %v %v, want %v", out, on, ok, want)
		}
	}
}
