package nfsserver

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// fakeTools puts fake systemctl, init script, rpc.statd and rpc.nfsd on
// PATH that record their arguments in the returned log; systemctl fails
// for a unit named in failUnit. The kernel's and the daemons' state come
// from an empty /proc and a thread count of 8 (rpc.nfsd 0 writes 0).
func fakeTools(t *testing.T, failUnit string) (script, log string) {
	t.Helper()
	dir, bin := t.TempDir(), t.TempDir()
	log = filepath.Join(dir, "calls")
	for _, p := range []*string{&procRoot, &threadsFile} {
		old := *p
		t.Cleanup(func() { *p = old })
	}
	procRoot, threadsFile = filepath.Join(dir, "proc"), filepath.Join(dir, "threads")
	must(t, os.MkdirAll(procRoot, 0o755))
	must(t, os.WriteFile(threadsFile, []byte("8\n"), 0o644))
	record := "#!/bin/sh\necho \"$(basename $0) $*\" >> " + log + "\n"
	tools := map[string]string{
		"systemctl": record + "case \"$*\" in *" + failUnit + "*) echo \"Job for " + failUnit + " failed.\" >&2; exit 1;; esac\n",
		"rpc.statd": record,
		"rpc.nfsd":  record + "[ \"$1\" = 0 ] && echo 0 > " + threadsFile + "\nexit 0\n",
		"nfs-init":  record,
	}
	for name, body := range tools {
		must(t, os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755))
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return filepath.Join(bin, "nfs-init"), log
}

func calls(t *testing.T, log string) string {
	t.Helper()
	data, _ := os.ReadFile(log)
	_ = os.Remove(log)
	return strings.Join(strings.Fields(strings.ReplaceAll(string(data), "\n", " ; ")), " ")
}

func logged(r *ocf.Request) *strings.Builder {
	var b strings.Builder
	r.Log = ocf.NewLogger([]string{"HA_LOGFACILITY=none"}, "nfsserver(nfsd)", &b)
	return &b
}

// TestSystemdUnits: on a host that systemd runs, the distribution's
// units are started and stopped, statd's only without nfsv4_only, and a
// unit that fails gives the reason systemctl printed.
func TestSystemdUnits(t *testing.T) {
	ctx := context.Background()
	r := request(nil)
	logged(r)
	oldRuntime := systemdRuntime
	t.Cleanup(func() { systemdRuntime = oldRuntime })
	systemdRuntime = t.TempDir()
	if _, ok := managerFor(&Config{}).(systemdUnits); !ok {
		t.Fatalf("manager %T under systemd, want systemdUnits", managerFor(&Config{}))
	}
	_, log := fakeTools(t, "no-such-unit")
	m := systemdUnits{}
	for _, tt := range []struct {
		c           *Config
		start, stop string
	}{
		{&Config{}, "systemctl start rpc-statd.service ; systemctl start nfs-server.service ;",
			"systemctl stop nfs-server.service ; systemctl stop rpc-statd.service ;"},
		{&Config{V4Only: true}, "systemctl start nfs-server.service ;", "systemctl stop nfs-server.service ;"},
	} {
		must(t, m.start(ctx, r, tt.c))
		if got := calls(t, log); got != tt.start {
			t.Errorf("v4only=%v start: %s, want %s", tt.c.V4Only, got, tt.start)
		}
		must(t, m.stop(ctx, r, tt.c))
		if got := calls(t, log); got != tt.stop {
			t.Errorf("v4only=%v stop: %s, want %s", tt.c.V4Only, got, tt.stop)
		}
	}
	_, _ = fakeTools(t, "nfs-server.service")
	err := m.start(ctx, r, &Config{})
	if ocf.CodeOf(err) != ocf.ErrGeneric || !strings.Contains(err.Error(), "Job for nfs-server.service failed.") {
		t.Errorf("a failing unit: %v", err)
	}
}

// TestInitScript: with nfs_init_script, statd is started before the
// script and nfsd's threads are stopped through the kernel when the
// script's stop leaves them (Debian's script sends them SIGINT).
func TestInitScript(t *testing.T) {
	ctx := context.Background()
	script, log := fakeTools(t, "none")
	c := &Config{InitScript: script}
	if _, ok := managerFor(c).(initScript); !ok {
		t.Fatalf("manager %T with an init script", managerFor(c))
	}
	r := request(nil)
	logged(r)
	must(t, initScript{}.start(ctx, r, c))
	if got, want := calls(t, log), "rpc.statd --no-notify ; nfs-init start ;"; got != want {
		t.Errorf("start: %s, want %s", got, want)
	}
	must(t, initScript{}.stop(ctx, r, c))
	if got, want := calls(t, log), "nfs-init stop ; rpc.nfsd 0 ;"; got != want {
		t.Errorf("stop: %s, want %s", got, want)
	}
}

// TestUnnamedIPs: an nfs_ip address without a host name is warned of at
// start, a named one and a name are not.
func TestUnnamedIPs(t *testing.T) {
	old := lookupAddr
	t.Cleanup(func() { lookupAddr = old })
	lookupAddr = func(_ context.Context, ip string) ([]string, error) {
		if ip == "192.0.2.101" {
			return []string{"nfs.example.org."}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: ip, IsNotFound: true}
	}
	r := request(nil)
	log := logged(r)
	unnamedIPs(context.Background(), r, &Config{IPs: []string{"192.0.2.101", "nfs.example.org", "192.0.2.102"}})
	if got := log.String(); !strings.Contains(got, "nfs_ip 192.0.2.102 has no host name") || strings.Contains(got, "192.0.2.101") ||
		strings.Contains(got, "nfs.example.org") {
		t.Errorf("warnings:\n%s", got)
	}
}
