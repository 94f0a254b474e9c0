package fence

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

const secret = "Pw-7f3kq"

func testAgent(dev *fakeDevice, opened *Options) *Agent {
	opts := []Option{Action()}
	opts = append(opts, Login("623")...)
	opts = append(opts, Plug(), Option{Name: "lanplus", Short: "P", Type: Boolean, Default: "0", ShortDesc: "lanplus"})
	opts = append(opts, Output()...)
	opts = append(opts, TimingOptions("2")...)
	return &Agent{
		Name: "fence_test", ShortDesc: "A test agent", LongDesc: "Tests <things> & more.",
		Symlinks: []Symlink{{Name: "fence_test_plus", ShortDesc: "Plus", Defaults: map[string]string{"lanplus": "1"}}},
		Options:  opts,
		Actions:  []ActionSpec{{Name: "on", HasAuto: true}, {Name: "off"}, {Name: "reboot"}, {Name: "status"}, {Name: "monitor"}, {Name: "metadata"}},
		Validate: func(o *Options) error {
			if o.Get("ip") == "" {
				return errors.New("no ip")
			}
			return nil
		},
		Open: func(ctx context.Context, o *Options, _ *ocf.Logger) (Device, error) {
			if opened != nil {
				*opened = *o
			}
			pw, err := o.Password(ctx)
			if err != nil {
				return nil, err
			}
			if pw != secret {
				return nil, errors.New("authentication failed")
			}
			return dev, nil
		},
	}
}

func run(t *testing.T, a *Agent, argv0 string, args []string, stdin string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), a, Invocation{
		Args: append([]string{"/usr/sbin/" + argv0}, args...), Stdin: strings.NewReader(stdin),
		Env: []string{"HA_LOGFACILITY=none"}, Stdout: &out, Stderr: &errb,
	})
	if strings.Contains(out.String()+errb.String(), secret) {
		t.Errorf("the password shows in the output: %q %q", out.String(), errb.String())
	}
	return code, out.String(), errb.String()
}

// What pacemaker-fenced sends for a reboot (captured from a real fencer,
// see the reference), with fast timings.
const fencerStdin = "nodename=nodeA\nip=192.0.2.7\npassword=" + secret + "\naction=reboot\nusername=admin\n" +
	"lanplus=1\nport=nodeA\ncipher=3\nipport=16623\npower_wait=0\nstonith_status_sleep=0.01\n"

func TestRunFromFencer(t *testing.T) {
	dev := &fakeDevice{on: true}
	var o Options
	code, out, errs := run(t, testAgent(dev, &o), "fence_test", nil, fencerStdin)
	if code != 0 || strings.TrimSpace(out) != "Success: Rebooted" {
		t.Fatalf("reboot = %d %q %q", code, out, errs)
	}
	if got := strings.Join(dev.log, " "); got != "status off status on status close" {
		t.Errorf("device calls %q", got)
	}
	// cipher is not an option of this agent: warned about, by name only.
	if !strings.Contains(errs, `unknown option "cipher"`) || strings.Contains(errs, "nodename") {
		t.Errorf("stderr = %q", errs)
	}
	if o.Get("plug") != "nodeA" || o.Get("ipport") != "16623" || !o.Bool("lanplus") {
		t.Errorf("options: plug %q ipport %q lanplus %v", o.Get("plug"), o.Get("ipport"), o.Bool("lanplus"))
	}
}

func TestRunActions(t *testing.T) {
	base := "ip=192.0.2.7\npassword=" + secret + "\npower_wait=0\nstonith_status_sleep=0.01\n"
	tests := []struct {
		name, argv0 string
		args        []string
		stdin       string
		on          bool
		code        int
		out, errs   string
		calls       string
	}{
		{name: "status on", stdin: base + "action=status\n", on: true, code: 0, out: "Status: ON\n"},
		{name: "status off", stdin: base + "action=status\n", code: 2, out: "Status: OFF\n"},
		{name: "option= is the action", stdin: base + "option=status\n", code: 2, out: "Status: OFF\n", calls: "status close"},
		{name: "no action reboots", stdin: base, on: true, out: "Success: Rebooted\n"},
		{name: "meta-data", stdin: "action=meta-data\n", out: "<resource-agent name=\"fence_test\""},
		{name: "alias metadata", argv0: "fence_test_plus", args: []string{"-o", "metadata"}, out: `<content type="boolean" default="1" />`},
		{name: "unknown action", stdin: base + "action=frob\n", code: 1, errs: `Failed: Unrecognised action "frob"`},
		{name: "validate-all", stdin: base + "action=validate-all\n", code: 0, calls: "-"},
		{name: "validate-all without ip", stdin: "action=validate-all\n", code: 1, errs: "Failed: no ip"},
		{name: "wrong password", stdin: "ip=192.0.2.7\npassword=nope\naction=status\n", code: 1, errs: "Failed: authentication failed"},
		{name: "command line", args: []string{"-a", "192.0.2.7", "-p", secret, "-o", "status"}, on: true, out: "Status: ON\n"},
		{name: "command line long", args: []string{"--ip=192.0.2.7", "--password", secret, "--action", "monitor"}, out: ""},
		{name: "bad option", args: []string{"--frob"}, code: 1, errs: "unknown option --frob"},
		{name: "help", args: []string{"-h"}, out: "--ip=[ip]"},
		{name: "version", args: []string{"-V"}, out: "fence_test"},
		{name: "password script", stdin: "ip=192.0.2.7\npassword_script=echo " + secret + "\naction=status\n", on: true, out: "Status: ON\n"},
		{name: "failing password script", stdin: "ip=192.0.2.7\npassword_script=exit 3\naction=status\n", code: 1, errs: "password_script failed"},
		{name: "manpage", args: []string{"-o", "manpage"}, out: ".TH FENCE_TEST 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := &fakeDevice{on: tt.on}
			argv0 := tt.argv0
			if argv0 == "" {
				argv0 = "fence_test"
			}
			code, out, errs := run(t, testAgent(dev, nil), argv0, tt.args, tt.stdin)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stdout %q, stderr %q)", code, tt.code, out, errs)
			}
			if tt.out == "" && out != "" || !strings.Contains(out, tt.out) {
				t.Errorf("stdout %q, want %q", out, tt.out)
			}
			if !strings.Contains(errs, tt.errs) {
				t.Errorf("stderr %q, want %q", errs, tt.errs)
			}
			switch tt.calls {
			case "":
			case "-":
				if len(dev.log) != 0 {
					t.Errorf("the device was used: %v", dev.log)
				}
			default:
				if got := strings.Join(dev.log, " "); got != tt.calls {
					t.Errorf("device calls %q, want %q", got, tt.calls)
				}
			}
		})
	}
}

func TestMetadataIsWellFormed(t *testing.T) {
	a := testAgent(nil, nil)
	var doc struct {
		Name     string `xml:"name,attr"`
		Symlinks []struct {
			Name string `xml:"name,attr"`
		} `xml:"symlink"`
		LongDesc string `xml:"longdesc"`
		Params   []struct {
			Name       string `xml:"name,attr"`
			Deprecated string `xml:"deprecated,attr"`
			Obsoletes  string `xml:"obsoletes,attr"`
			Getopt     struct {
				Mixed string `xml:"mixed,attr"`
			} `xml:"getopt"`
		} `xml:"parameters>parameter"`
		Actions []struct {
			Name      string `xml:"name,attr"`
			Automatic string `xml:"automatic,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal(a.RenderMetadata(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Name != "fence_test" || len(doc.Symlinks) != 1 || doc.LongDesc != "Tests <things> & more." {
		t.Errorf("header: %+v", doc)
	}
	seen := map[string]string{}
	for _, p := range doc.Params {
		seen[p.Name] = p.Getopt.Mixed + "|" + p.Deprecated + "|" + p.Obsoletes
	}
	for name, want := range map[string]string{
		"ip": "-a, --ip=[ip]||ipaddr", "ipaddr": "-a, --ip=[ip]|1|", "lanplus": "-P, --lanplus||",
		"action": "-o, --action=[action]||", "port_as_ip": "--port-as-ip||",
	} {
		if seen[name] != want {
			t.Errorf("%s: %q, want %q", name, seen[name], want)
		}
	}
	if _, ok := seen["option"]; ok {
		t.Error("option is accepted but must not be listed")
	}
	if doc.Actions[0].Name != "on" || doc.Actions[0].Automatic != "0" {
		t.Errorf("actions %+v", doc.Actions)
	}
}
