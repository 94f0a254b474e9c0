package fence

import (
	"reflect"
	"strings"
	"testing"
)

func specs() []Option {
	return []Option{
		{Name: "action", Short: "o", Type: String, Default: "reboot"},
		{Name: "ip", Aliases: []string{"ipaddr"}, Short: "a", Type: String, Required: true},
		{Name: "ipport", Short: "u", Type: Integer, Default: "623"},
		{Name: "username", Aliases: []string{"login"}, Short: "l", Type: String},
		{Name: "password", Aliases: []string{"passwd"}, Short: "p", Type: String, Secret: true},
		{Name: "lanplus", Short: "P", Type: Boolean, Default: "0"},
		{Name: "privlvl", Short: "L", Type: Select, Default: "administrator",
			Choices: []string{"callback", "user", "operator", "administrator"}},
		{Name: "power_wait", Type: Second, Default: "2"},
		{Name: "plug", Aliases: []string{"port"}, Short: "n", Type: String},
	}
}

func TestParseStdin(t *testing.T) {
	in := strings.Join([]string{
		"# a comment", "", "nodename=nodeA", "ipaddr=192.0.2.5", "login=admin",
		`passwd="s3cret with spaces"`, "action=off", "lanplus=", "privlvl=OPERATOR",
		"power-wait=4", "port=nodeA", "pcmk_host_list=nodeA", "ipport=notanumber",
	}, "\n")
	o, err := Parse(specs(), nil, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"action": "off", "ip": "192.0.2.5", "username": "admin", "password": "s3cret with spaces",
		"lanplus": "1", "privlvl": "operator", "power_wait": "4", "plug": "nodeA",
	}
	if !reflect.DeepEqual(o.values, want) {
		t.Errorf("values = %v, want %v", o.values, want)
	}
	if o.Get("ipport") != "623" || !o.Bool("lanplus") || o.Float("power_wait") != 4 {
		t.Errorf("Get/Bool/Float = %q %v %v", o.Get("ipport"), o.Bool("lanplus"), o.Float("power_wait"))
	}
	joined := strings.Join(o.Warnings, "\n")
	if len(o.Warnings) != 2 || !strings.Contains(joined, "pcmk_host_list") || !strings.Contains(joined, "ipport") {
		t.Errorf("warnings = %q, want the unknown key and the bad number (nodename is silent)", o.Warnings)
	}
}

func TestSecretsStayOutOfMessages(t *testing.T) {
	sp := append(specs(), Option{Name: "pin", Type: Integer, Secret: true})
	o, _ := Parse(sp, nil, strings.NewReader("pin=hunter2\n"))
	if len(o.Warnings) != 1 || strings.Contains(o.Warnings[0], "hunter2") {
		t.Errorf("warnings = %q: a secret was shown", o.Warnings)
	}
	_, err := Parse(sp, []string{"--pin", "hunter2"}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v: a secret was shown", err)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want map[string]string
		err  string
	}{
		{args: []string{"-o", "status", "-a", "192.0.2.5", "-l", "admin", "-p", "pw", "-P"},
			want: map[string]string{"action": "status", "ip": "192.0.2.5", "username": "admin", "password": "pw", "lanplus": "1"}},
		{args: []string{"--action=on", "--ip", "192.0.2.6", "--power-wait=0", "-Loperator", "--lanplus=0"},
			want: map[string]string{"action": "on", "ip": "192.0.2.6", "power_wait": "0", "privlvl": "operator", "lanplus": "0"}},
		{args: []string{"--frob"}, err: "unknown option --frob"},
		{args: []string{"-Z"}, err: "unknown option -Z"},
		{args: []string{"-a"}, err: "needs a value"},
		{args: []string{"stray"}, err: "unexpected argument"},
		{args: []string{"--privlvl", "root"}, err: "not one of"},
	}
	for _, tt := range tests {
		o, err := Parse(specs(), tt.args, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(o.values, tt.want) {
			t.Errorf("Parse(%q) = %v, %v, want %v", tt.args, o.values, err, tt.want)
		}
	}
}

func TestMissing(t *testing.T) {
	o, _ := Parse(specs(), nil, strings.NewReader("action=status\n"))
	if got := o.Missing(); !reflect.DeepEqual(got, []string{"ip"}) {
		t.Errorf("Missing() = %v, want [ip]", got)
	}
	if o.Get("action") != "status" || o.IsSet("ip") {
		t.Error("Get/IsSet wrong")
	}
}

func TestShortFlagClusters(t *testing.T) {
	sp := append(specs(), Option{Name: "verbose", Short: "v", Type: Boolean},
		Option{Name: "verbose_level", Type: Integer}, Option{Name: "quiet", Short: "q", Type: Boolean})
	tests := []struct {
		args []string
		want map[string]string
	}{
		{[]string{"-vvv"}, map[string]string{"verbose": "1", "verbose_level": "3"}},
		{[]string{"-Pv", "-o", "status"}, map[string]string{"lanplus": "1", "verbose": "1", "verbose_level": "1", "action": "status"}},
		{[]string{"-Ppsecret"}, map[string]string{"lanplus": "1", "password": "secret"}},
		{[]string{"-qPp", "secret"}, map[string]string{"quiet": "1", "lanplus": "1", "password": "secret"}},
		{[]string{"-v", "--verbose-level=5"}, map[string]string{"verbose": "1", "verbose_level": "5"}},
	}
	for _, tt := range tests {
		o, err := Parse(sp, tt.args, nil)
		if err != nil || !reflect.DeepEqual(o.values, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.args, o.values, err, tt.want)
		}
	}
	// A value-taking letter inside a cluster with a bad boolean value
	// never shows the rest of the cluster.
	if _, err := Parse(sp, []string{"-Lroot"}, nil); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("select error %v", err)
	}
}

func TestStdinValues(t *testing.T) {
	o, _ := Parse(specs(), nil, strings.NewReader("password=  two leading spaces\nip=192.0.2.5\nsecond half of a value\n"))
	if o.Get("password") != "  two leading spaces" {
		t.Errorf("password %q: the value is everything after the first =", o.Get("password"))
	}
	if len(o.Warnings) != 1 || strings.Contains(o.Warnings[0], "second half") || !strings.Contains(o.Warnings[0], "line 3") {
		t.Errorf("warnings %q", o.Warnings)
	}
}

func TestStdinVerboseIsLevelOne(t *testing.T) {
	sp := append(specs(), Option{Name: "verbose", Short: "v", Type: Boolean}, Option{Name: "verbose_level", Type: Integer})
	for in, want := range map[string]string{"verbose=1\n": "1", "verbose=0\n": "", "verbose_level=3\nverbose=yes\n": "3"} {
		o, _ := Parse(sp, nil, strings.NewReader(in))
		if got := o.Get("verbose_level"); got != want {
			t.Errorf("%q: verbose_level %q, want %q", in, got, want)
		}
	}
}
