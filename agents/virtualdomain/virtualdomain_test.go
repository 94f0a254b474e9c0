//go:build cgo

package virtualdomain

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		state State
		want  ocf.Status
	}{
		{Running, ocf.Success},
		{Blocked, ocf.Success},
		{Paused, ocf.Success},
		{ShuttingDown, ocf.Success},
		{ShutOff, ocf.NotRunning},
		{Undefined, ocf.NotRunning},
		{Crashed, ocf.ErrGeneric},
		{PMSuspended, ocf.ErrGeneric},
		{NoState, ocf.ErrGeneric},
		{State(42), ocf.ErrGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.state.String(), func(t *testing.T) {
			if got := ocf.CodeOf(StatusOf("vm1", tt.state)); got != tt.want {
				t.Errorf("StatusOf(%s) = %s, want %s", tt.state, got, tt.want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	base := map[string]string{"config": "/etc/vm1.xml"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		params map[string]string
		want   ocf.Status
		reason string
	}{
		{"defaults", base, ocf.Success, ""},
		{"no config", map[string]string{}, ocf.ErrConfigured, "config is required"},
		{"relative config", with("config", "vm1.xml"), ocf.ErrConfigured, "absolute"},
		{"force_stop with snapshot", with("force_stop", "true", "snapshot", "/var/snap"), ocf.ErrConfigured, "force_stop and snapshot"},
		{"stateless without backing file", with("stateless", "yes"), ocf.ErrConfigured, "backingfile"},
		{"stateless with backing file", with("stateless", "yes", "backingfile", "/b.qcow2"), ocf.Success, ""},
		{"speed not decimal", with("migration_speed", "fast"), ocf.ErrConfigured, "migration_speed"},
		{"downtime negative", with("migration_downtime", "-5"), ocf.ErrConfigured, "migration_downtime"},
		{"downtime", with("migration_downtime", "100"), ocf.Success, ""},
		{"port out of range", with("migrateport", "70000"), ocf.ErrConfigured, "migrateport"},
		{"shutdown_mode list", with("shutdown_mode", "acpi,agent"), ocf.Success, ""},
		{"shutdown_mode unknown", with("shutdown_mode", "acpi,reboot"), ocf.ErrConfigured, `"reboot"`},
		{"copyindirs", with("copyindirs", "/etc/x"), ocf.ErrConfigured, "copyindirs"},
		{"migrate options", with("migrate_options", "--p2p --tunnelled --unsafe"), ocf.Success, ""},
		{"migrate option unknown", with("migrate_options", "--p2p --frobnicate"), ocf.ErrConfigured, "--frobnicate"},
		{"tunnelled without p2p", with("migrate_options", "--tunnelled"), ocf.ErrConfigured, "--p2p"},
		{"relative snapshot", with("snapshot", "snap"), ocf.ErrConfigured, "snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(request(t, "validate-all", tt.params))
			if got := ocf.CodeOf(err); got != tt.want {
				t.Fatalf("ParseConfig(%v) = %s (%v), want %s", tt.params, got, err, tt.want)
			}
			if !strings.Contains(ocf.ReasonOf(err), tt.reason) {
				t.Errorf("ParseConfig(%v) reason = %q, want it to mention %q", tt.params, ocf.ReasonOf(err), tt.reason)
			}
		})
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := ParseConfig(request(t, "start", map[string]string{
		"config": "/etc/vm1.xml", "sync_config_on_stop": "1", "autoset_utilization_cpu": "false",
		"unset_utilization_cpu": "true", "autoset_utilization_hv_memory": "0",
		"migration_speed": "50", "migration_downtime": "100", "monitor_scripts": " /a  /b ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SaveConfig || !c.SyncConfig {
		t.Errorf("sync_config_on_stop: SaveConfig=%v SyncConfig=%v, want both true", c.SaveConfig, c.SyncConfig)
	}
	wantUtil := [3]UtilSetting{{"cpu", false, true}, {"host_memory", true, false}, {"hv_memory", false, false}}
	if c.Util != wantUtil {
		t.Errorf("Util = %v, want %v", c.Util, wantUtil)
	}
	if c.Speed != 50 || c.Downtime != 100 {
		t.Errorf("Speed, Downtime = %d, %d, want 50, 100", c.Speed, c.Downtime)
	}
	if !reflect.DeepEqual(c.MonitorScript, []string{"/a", "/b"}) {
		t.Errorf("MonitorScript = %q", c.MonitorScript)
	}
}

func TestParseMigrateOptions(t *testing.T) {
	tests := []struct {
		in   string
		want MigrateOptions
	}{
		{"", MigrateOptions{}},
		{"--p2p --tunnelled", MigrateOptions{P2P: true, Tunnelled: true}},
		{"--live --persistent --undefinesource --verbose", MigrateOptions{}},
		{"--migrateuri=tcp://%n-mig:49200 --unsafe", MigrateOptions{MigrateURI: "tcp://%n-mig:49200", Unsafe: true}},
		{"--migrateuri tcp://x --auto-converge", MigrateOptions{MigrateURI: "tcp://x", AutoConverge: true}},
		{"--parallel-connections 4", MigrateOptions{Parallel: true, ParallelConnections: 4}},
		{"--listen-address=198.51.100.7 --compressed", MigrateOptions{ListenAddress: "198.51.100.7", Compressed: true}},
	}
	for _, tt := range tests {
		got, err := ParseMigrateOptions(tt.in)
		if err != nil {
			t.Errorf("ParseMigrateOptions(%q) error %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseMigrateOptions(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"--migrateuri", "--parallel-connections x", "--offline", "--desturi=x", "--p2p=yes"} {
		if _, err := ParseMigrateOptions(bad); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("ParseMigrateOptions(%q) = %v, want a configuration error", bad, err)
		}
	}
}

func TestRemoteURI(t *testing.T) {
	tests := []struct {
		name                           string
		hv, transport, user, suffix, r string
		target                         string
		want                           string
	}{
		{"ssh", "qemu:///system", "ssh", "", "", "", "node2", "qemu+ssh://node2/system"},
		{"no transport", "qemu:///system", "", "", "", "", "node2", "qemu://node2/system"},
		{"port and user kept", "qemu+tls://a:16514/system", "", "root", "", "", "node2", "qemu+tls://root@node2:16514/system"},
		{"tcp", "qemu:///system", "tcp", "", "", "", "node2", "qemu+tcp://node2/system"},
		{"suffix", "qemu:///system", "tcp", "", "-mig", "", "node2", "qemu+tcp://node2-mig/system"},
		{"suffix fqdn", "qemu:///system", "tcp", "", "-mig", "", "node2.example.com", "qemu+tcp://node2-mig.example.com/system"},
		{"bad user ignored", "qemu:///system", "ssh", "Root!", "", "", "node2", "qemu+ssh://node2/system"},
		{"transport replaces one", "qemu+unix:///system", "tcp", "", "", "", "node2", "qemu+tcp://node2/system"},
		{"remoteuri", "qemu:///system", "ssh", "root", "-mig", "qemu+tls://%n.lan/system", "node2", "qemu+tls://node2.lan/system"},
		{"session", "qemu:///session", "ssh", "", "", "", "n2", "qemu+ssh://n2/session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Transport: tt.transport, User: tt.user, NetSuffix: tt.suffix, RemoteURI: tt.r}
			got, err := RemoteURI(c, tt.hv, tt.target)
			if err != nil || got != tt.want {
				t.Errorf("RemoteURI(%q, %q) = %q, %v, want %q", tt.hv, tt.target, got, err, tt.want)
			}
		})
	}
	if _, err := RemoteURI(&Config{}, "test", "n2"); err == nil {
		t.Error("RemoteURI of a URI without :// succeeded")
	}
}

func TestMigrateURI(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		hv   string
		want string
	}{
		{"libvirt chooses", Config{}, "qemu:///system", ""},
		{"suffix, random port", Config{NetSuffix: "-mig"}, "qemu:///system", "tcp:node2-mig:49160"},
		{"suffix, port", Config{NetSuffix: "-mig", MigratePort: 50000}, "qemu+ssh://x/system", "tcp:node2-mig:50000"},
		{"xen", Config{NetSuffix: "-mig"}, "xen:///system", "node2-mig"},
		{"other driver", Config{NetSuffix: "-mig"}, "lxc:///", ""},
		{"migrateuri", Config{MigrateURI: "tcp://%n:49300", NetSuffix: "-m"}, "qemu:///system", "tcp://node2-m:49300"},
		{"from options", Config{MigrateOpts: MigrateOptions{MigrateURI: "tcp://%n"}}, "qemu:///system", "tcp://node2"},
		{"migrateuri wins", Config{MigrateURI: "tcp://a", MigrateOpts: MigrateOptions{MigrateURI: "tcp://b"}}, "qemu:///system", "tcp://a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MigrateURI(&tt.cfg, tt.hv, "node2", 49160); got != tt.want {
				t.Errorf("MigrateURI(%+v) = %q, want %q", tt.cfg, got, tt.want)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		left           time.Duration
		graceful, abrt time.Duration // from t0
	}{
		{85 * time.Second, 70 * time.Second, 76500 * time.Millisecond},
		{27 * time.Second, 21600 * time.Millisecond, 22 * time.Second},
		{10 * time.Second, 7 * time.Second, 5 * time.Second},
		{2 * time.Second, 0, 0},
		{0, 0, 0},
		{-time.Second, 0, 0},
		{300 * time.Second, 285 * time.Second, 290 * time.Second},
	}
	for _, tt := range tests {
		if got := GracefulUntil(t0, t0.Add(tt.left)).Sub(t0); got != tt.graceful {
			t.Errorf("GracefulUntil(left %s) = +%s, want +%s", tt.left, got, tt.graceful)
		}
		if got := AbortAt(t0, t0.Add(tt.left)).Sub(t0); got != tt.abrt {
			t.Errorf("AbortAt(left %s) = +%s, want +%s", tt.left, got, tt.abrt)
		}
	}
}

func TestDomainName(t *testing.T) {
	tests := []struct {
		doc, want string
		ok        bool
	}{
		{"<domain type='qemu'><name>vm1</name></domain>", "vm1", true},
		{"<?xml version='1.0'?>\n<!-- c -->\n<domain>\n  <uuid>x</uuid>\n  <name> vm-2 </name>\n</domain>", "vm-2", true},
		{"<domain><metadata><name>inner</name></metadata><name>outer</name></domain>", "outer", true},
		{"<domain><uuid>x</uuid></domain>", "", false},
		{"<network><name>n</name></network>", "", false},
		{"not xml", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := DomainName([]byte(tt.doc))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("DomainName(%q) = %q, %v, want %q (ok %v)", tt.doc, got, err, tt.want, tt.ok)
		}
	}
}

func TestReadDomainName(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.xml")
	tests := []struct {
		action string
		probe  bool
		want   ocf.Status
	}{
		{"monitor", true, ocf.NotRunning},
		{"stop", false, ocf.NotRunning},
		{"start", false, ocf.ErrInstalled},
		{"monitor", false, ocf.ErrInstalled},
	}
	for _, tt := range tests {
		r := request(t, tt.action, map[string]string{"config": missing})
		r.Probe = tt.probe
		_, _, err := readDomainName(r, missing)
		if got := ocf.CodeOf(err); got != tt.want {
			t.Errorf("readDomainName(%s, probe %v) = %s, want %s", tt.action, tt.probe, got, tt.want)
		}
	}
	// A stop treats an unreadable file as stopped, which Exec reports as
	// success for a stop: check the agent's stop returns 0.
	good := filepath.Join(t.TempDir(), "vm.xml")
	if err := os.WriteFile(good, []byte("<domain><name>vm9</name></domain>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, _, err := readDomainName(request(t, "start", nil), good); err != nil || name != "vm9" {
		t.Errorf("readDomainName(good) = %q, %v", name, err)
	}
}

func TestUtilization(t *testing.T) {
	set := [3]UtilSetting{{"cpu", true, false}, {"host_memory", true, false}, {"hv_memory", false, true}}
	want := UtilValues(set, Info{VCPUs: 2, MaxMemKiB: 98304})
	if !reflect.DeepEqual(want, map[string]string{"cpu": "2", "host_memory": "96", "hv_memory": ""}) {
		t.Fatalf("UtilValues = %v", want)
	}
	tests := []struct {
		cached map[string]string
		want   []string
	}{
		{map[string]string{}, []string{"cpu", "host_memory", "hv_memory"}},
		{map[string]string{"cpu": "2", "host_memory": "96", "hv_memory": ""}, nil},
		{map[string]string{"cpu": "1", "host_memory": "96", "hv_memory": ""}, []string{"cpu"}},
		{map[string]string{"cpu": "2", "host_memory": "96"}, []string{"hv_memory"}},
	}
	for _, tt := range tests {
		if got := UtilChanges(want, tt.cached); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("UtilChanges(cached %v) = %v, want %v", tt.cached, got, tt.want)
		}
	}
	// The state file: one name=value line each, sorted, read back as it
	// was written.
	data := formatUtilCache(want)
	if string(data) != "cpu=2\nhost_memory=96\nhv_memory=\n" {
		t.Errorf("formatUtilCache = %q", data)
	}
	if got := parseUtilCache(data); !reflect.DeepEqual(got, want) {
		t.Errorf("cache round trip = %v, want %v", got, want)
	}
}

func TestPoolsAndNetworks(t *testing.T) {
	doc := `<domain type='qemu'><name>v</name><devices>
	<disk type='volume'><source pool='p2' volume='a'/><target dev='vda'/></disk>
	<disk type='volume'><source pool='p1' volume='b'/><target dev='vdb'/></disk>
	<disk type='volume'><source pool='p2' volume='c'/><target dev='vdc'/></disk>
	<interface type='network'><source network='default'/></interface>
	<interface type='bridge'><source bridge='br0'/></interface>
	</devices></domain>`
	pools, nets, err := PoolsAndNetworks([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pools, []string{"p1", "p2"}) || !reflect.DeepEqual(nets, []string{"default"}) {
		t.Errorf("PoolsAndNetworks = %v, %v", pools, nets)
	}
}

func TestRPCTarget(t *testing.T) {
	tests := []struct {
		uri, network, addr, name string
		ok                       bool
	}{
		{"qemu:///system", "unix", "/run/libvirt/libvirt-sock", "qemu:///system", true},
		{"qemu+unix:///system?socket=/x/sock", "unix", "/x/sock", "qemu:///system", true},
		{"qemu+tcp://node2/system", "tcp", "node2:16509", "qemu:///system", true},
		{"qemu+tcp://192.0.2.5:16600/system", "tcp", "192.0.2.5:16600", "qemu:///system", true},
		{"qemu+ssh://node2/system", "", "", "", false},
		{"qemu+tls://node2/system", "", "", "", false},
		{"qemu+tcp://root@node2/system", "", "", "", false},
		{"qemu:///session", "", "", "", false},
		{"", "", "", "", false},
		{"xen:///system", "", "", "", false},
		{"qemu+unix:///system?mode=legacy", "", "", "", false},
	}
	for _, tt := range tests {
		n, a, name, ok := rpcTarget(tt.uri)
		if n != tt.network || a != tt.addr || name != tt.name || ok != tt.ok {
			t.Errorf("rpcTarget(%q) = %q %q %q %v, want %q %q %q %v", tt.uri, n, a, name, ok, tt.network, tt.addr, tt.name, tt.ok)
		}
	}
}

func TestXDR(t *testing.T) {
	var x xdr
	x.optString("qemu:///system")
	x.u32(7)
	r := rd{b: x}
	if s := r.optString(); s != "qemu:///system" {
		t.Errorf("optString round trip = %q", s)
	}
	if v := r.u32(); v != 7 || r.err != nil || len(r.b) != 0 {
		t.Errorf("u32 = %d, err %v, left %d", v, r.err, len(r.b))
	}
	if len(x)%4 != 0 {
		t.Errorf("XDR length %d is not a multiple of 4", len(x))
	}
	short := rd{b: []byte{0, 0, 0, 9, 'a'}}
	if short.str(); short.err == nil {
		t.Error("a truncated string decoded without error")
	}
}

// keepFile puts back the file a config link points at, with its mode,
// when the undefine deleted it, and leaves a file that exists alone.
func TestKeepFile(t *testing.T) {
	dir := t.TempDir()
	real, link := filepath.Join(dir, "vm1.xml"), filepath.Join(dir, "config.xml")
	if err := os.WriteFile(real, []byte("<domain/>"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	restore := keepFile(link, dir+"/")
	if err := os.Remove(real); err != nil {
		t.Fatal(err)
	}
	if err := restore(); err != nil {
		t.Fatalf("restore: %v", err)
	}
	data, err := os.ReadFile(link)
	fi, serr := os.Stat(real)
	if err != nil || serr != nil || string(data) != "<domain/>" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("after restore: %q %v, mode %v %v", data, err, fi.Mode().Perm(), serr)
	}
	// Rewritten meanwhile (libvirt's own copy, say): not touched.
	restore = keepFile(link, dir+"/")
	if err := os.WriteFile(real, []byte("<domain type='qemu'/>"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(real); string(data) != "<domain type='qemu'/>" {
		t.Errorf("an existing file was replaced: %q", data)
	}
	// Outside libvirt's directory (shared storage): not guarded.
	restore = keepFile(link, "/etc/libvirt/")
	if err := os.Remove(real); err != nil {
		t.Fatal(err)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(real); err == nil {
		t.Error("a config outside libvirt's directory was written back")
	}
	// No file at all: nothing to keep, nothing written.
	if err := keepFile(filepath.Join(dir, "missing.xml"), dir+"/")(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.xml")); err == nil {
		t.Error("a missing config was created")
	}
}
