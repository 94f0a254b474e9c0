package ipmi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/tests/proc"
)

// The chassis-control script switches the power state, logs every call
// where PowerEvents and Events read them, and runs the power hook.
func TestChassisControl(t *testing.T) {
	dir := t.TempDir()
	hookOut := filepath.Join(dir, "hook")
	b := NewBMC(BMCSpec{Name: "t", PowerHook: []string{"sh", "-c", `echo "hook $0" >> ` + hookOut}}, filepath.Join(dir, "bmc"))
	if b.Addr != "127.0.0.1" || len(b.Users) != 1 || b.Admin().Name != DefaultUser {
		t.Fatalf("defaults: %+v", b)
	}
	if err := b.Prepare(); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(b.Dir, "chassis-control")
	run := func(args ...string) string { return proc.Run(t, script, append([]string{"0x20"}, args...)...) }
	if !b.Power() || run("get", "power") != "power:1\n" {
		t.Fatal("power not on at first")
	}
	run("set", "power", "0")
	if b.Power() || run("get", "power") != "power:0\n" {
		t.Error("power not off after set power 0")
	}
	run("set", "power", "1")
	ev := b.PowerEvents()
	if len(ev) != 2 || ev[0].On || !ev[1].On {
		t.Errorf("PowerEvents = %+v", ev)
	}
	if e := b.Events(); len(e) != 2 || !strings.HasSuffix(e[0], " set power 0") {
		t.Errorf("Events = %q", e)
	}
	if data, _ := os.ReadFile(hookOut); string(data) != "hook 0\nhook 1\n" {
		t.Errorf("power hook ran: %q", data)
	}
	conf, _ := os.ReadFile(filepath.Join(b.Dir, "lan.conf"))
	if !strings.Contains(string(conf), `user 2 true "fenceadm" "fencepw" admin`) {
		t.Errorf("lan.conf:\n%s", conf)
	}
}

func TestCheck(t *testing.T) {
	for _, spec := range []BMCSpec{
		{Name: `a"b`}, {Kg: strings.Repeat("k", 21)}, {Addr: "localhost"},
		{Users: []User{{Name: "u", Password: "p", Priv: "root"}}},
		{Users: []User{{Name: strings.Repeat("u", 17), Password: "p", Priv: "user"}}},
	} {
		if err := NewBMC(spec, t.TempDir()).Prepare(); err == nil {
			t.Errorf("%+v accepted", spec)
		}
	}
}
