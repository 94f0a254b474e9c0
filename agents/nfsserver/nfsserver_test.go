package nfsserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

func request(params map[string]string) *ocf.Request {
	r := &ocf.Request{Params: map[string]string{"rpcpipefs_dir": "/var/lib/nfs/rpc_pipefs"}}
	for k, v := range params {
		r.Params[k] = v
	}
	return r
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(request(map[string]string{"nfs_ip": "192.0.2.101, 198.51.100.101", "nfs_smnotify_retry_time": "5",
		"nfs_notify_foreground": "true", "nfs_init_script": "auto detected", "nfs_shared_infodir": "/srv/nfs/info/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.InitScript != "" || c.InfoDir != "/srv/nfs/info" || len(c.IPs) != 2 {
		t.Errorf("config %+v", c)
	}
	if got := strings.Join(c.NotifyArgs(c.IPs[1]), " "); got != "-f -d -m 5 -v 198.51.100.101" {
		t.Errorf("sm-notify %s", got)
	}
	for _, bad := range []map[string]string{
		{"nfs_smnotify_retry_time": "soon"},
		{"nfs_shared_infodir": "srv/info"},
		{"rpcpipefs_dir": "pipefs"},
	} {
		if _, err := ParseConfig(request(bad)); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("%v: %v, want exit 6", bad, err)
		}
	}
}

func TestVerdict(t *testing.T) {
	all := map[string][]int{rpcbind: {10}, statd: {11}, mountd: {12}}
	v3 := &Config{}
	v4 := &Config{V4Only: true}
	for _, tt := range []struct {
		c    *Config
		st   Status
		want ocf.Status
	}{
		{v3, Status{Threads: 8, Daemons: all, SharedOK: true}, ocf.Success},
		{v3, Status{Threads: 0, Daemons: all, SharedOK: true}, ocf.NotRunning},
		{v3, Status{Threads: -1, SharedOK: true}, ocf.NotRunning},
		{v3, Status{Threads: 8, Daemons: map[string][]int{rpcbind: {10}, mountd: {12}}, SharedOK: true}, ocf.ErrGeneric},
		{v4, Status{Threads: 8, Daemons: map[string][]int{mountd: {12}}, SharedOK: true}, ocf.Success},
		{v4, Status{Threads: 8, Daemons: map[string][]int{}, SharedOK: true}, ocf.ErrGeneric},
		{v3, Status{Threads: 8, Daemons: all, SharedOK: false, SharedWhy: "x"}, ocf.ErrGeneric},
	} {
		if got := ocf.CodeOf(verdict(tt.c, tt.st)); got != tt.want {
			t.Errorf("verdict(%+v, %+v) = %v, want %v", tt.c, tt.st, got, tt.want)
		}
	}
}

func TestObserve(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []*string{&procRoot, &threadsFile} {
		old := *p
		t.Cleanup(func() { *p = old })
	}
	procRoot, threadsFile = filepath.Join(dir, "proc"), filepath.Join(dir, "threads")
	for pid, comm := range map[string]string{"10": "rpcbind", "11": "rpc.statd", "12": "rpc.mountd", "13": "bash", "self": "x"} {
		must(t, os.MkdirAll(filepath.Join(procRoot, pid), 0o755))
		must(t, os.WriteFile(filepath.Join(procRoot, pid, "comm"), []byte(comm+"\n"), 0o644))
	}
	st := observe(&Config{})
	if st.Threads != -1 {
		t.Errorf("threads without the nfsd filesystem: %d", st.Threads)
	}
	must(t, os.WriteFile(threadsFile, []byte("8\n"), 0o644))
	st = observe(&Config{})
	if st.Threads != 8 || len(st.Daemons[statd]) != 1 || st.Daemons[mountd][0] != 12 || len(st.Daemons["bash"]) != 0 {
		t.Errorf("observe: %+v", st)
	}
	if err := verdict(&Config{}, st); err != nil {
		t.Errorf("verdict: %v", err)
	}
}

func TestPrepareState(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "etab"), []byte("/x\t*(ro)\n"), 0o644))
	must(t, prepareState(dir))
	for _, d := range []string{"sm", "sm.bak", "v4recovery", "nfsdcld"} {
		if st, err := os.Stat(filepath.Join(dir, d)); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "etab")); string(data) != "/x\t*(ro)\n" {
		t.Errorf("etab rewritten: %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "rmtab")); err != nil {
		t.Errorf("rmtab: %v", err)
	}
}

// TestMonitorListKept follows a switchover: stop saves the monitor list,
// the kernel's SM_UNMON empties it, start brings it back without
// replacing what statd wrote since.
func TestMonitorListKept(t *testing.T) {
	dir := t.TempDir()
	must(t, prepareState(dir))
	write := func(rel, data string) {
		t.Helper()
		must(t, os.WriteFile(filepath.Join(dir, rel), []byte(data), 0o600))
	}
	read := func(rel string) string {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return "missing"
		}
		return string(data)
	}
	write("sm/client-1", "v3 client one")
	write("sm.bak/client-2", "not yet notified")
	must(t, saveMonitorList(dir))
	must(t, os.Remove(filepath.Join(dir, "sm/client-1")))
	must(t, os.Remove(filepath.Join(dir, "sm.bak/client-2")))
	write("sm/client-2", "statd's newer entry")
	write("sm.ha/half"+tmpSuffix, "a copy cut short")
	n, err := restoreMonitorList(dir)
	must(t, err)
	if n != 2 {
		t.Errorf("%d entries restored, want 2", n)
	}
	for rel, want := range map[string]string{"sm/client-1": "v3 client one", "sm/client-2": "statd's newer entry",
		"sm.ha/client-1": "missing", "sm.ha/client-2": "missing", "sm/half" + tmpSuffix: "missing"} {
		if got := read(rel); got != want {
			t.Errorf("%s: %q, want %q", rel, got, want)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "sm/client-1")); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("restored entry: mode %v, want 0600", st.Mode())
	}
	// Nothing saved: nothing to restore.
	if n, err := restoreMonitorList(t.TempDir()); n != 0 || err != nil {
		t.Errorf("empty state: %d, %v", n, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNotifyCmd: the stock agent's hidden nfs_notify_cmd is checked as
// it checks it (ocft's nfsserver config has the missing program case).
func TestNotifyCmd(t *testing.T) {
	for cmd, want := range map[string]ocf.Status{"no_such_program": ocf.ErrInstalled, "/bin/true": ocf.ErrConfigured} {
		r := request(map[string]string{"nfs_notify_cmd": cmd})
		if got := ocf.CodeOf(validate(context.Background(), r)); got != want {
			t.Errorf("nfs_notify_cmd=%s: exit %d, want %d", cmd, got, want)
		}
	}
}

// TestNotifierRetries: an sm-notify that cannot start is run again, and
// the notifier ends once every address was notified.
func TestNotifierRetries(t *testing.T) {
	dir := t.TempDir()
	oldState, oldRetry, oldThreads := stateDir, notifyRetry, threadsFile
	stateDir, notifyRetry, threadsFile = dir, 10*time.Millisecond, filepath.Join(dir, "threads")
	t.Cleanup(func() { stateDir, notifyRetry, threadsFile = oldState, oldRetry, oldThreads })
	must(t, os.WriteFile(filepath.Join(dir, "etab"), []byte("/srv\t*(rw)\n"), 0o644))
	bin := t.TempDir()
	runs := filepath.Join(dir, "runs")
	// The first run fails as sm-notify does when the name service does
	// not answer; the second succeeds.
	must(t, os.WriteFile(filepath.Join(bin, "sm-notify"), []byte("#!/bin/sh\necho \"$*\" >> "+runs+
		"\n[ $(wc -l < "+runs+") -ge 2 ]\n"), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	var log strings.Builder
	// A server that stopped before the notifications notifies nobody.
	if rc := NotifyMain([]string{"-wait", "1s"}, &log); rc != 0 || !strings.Contains(log.String(), "not notifying") {
		t.Fatalf("stopped server: exit %d\n%s", rc, log.String())
	}
	if _, err := os.Stat(runs); err == nil {
		t.Fatalf("sm-notify ran for a stopped server")
	}
	must(t, os.WriteFile(threadsFile, []byte("8\n"), 0o644))
	log.Reset()
	if rc := NotifyMain([]string{"-wait", "1s"}, &log); rc != 0 {
		t.Fatalf("exit %d\n%s", rc, log.String())
	}
	data, _ := os.ReadFile(runs)
	if got := strings.Count(string(data), "-f"); got != 2 {
		t.Errorf("sm-notify ran %d times, want 2:\n%s\n%s", got, data, log.String())
	}
}

// TestSharedMounted reads from the mount table alone whether
// /var/lib/nfs is nfs_shared_infodir: monitor never touches the shared
// filesystem itself (a hung one would hang it).
func TestSharedMounted(t *testing.T) {
	old := mountsFile
	t.Cleanup(func() { mountsFile = old })
	mountsFile = filepath.Join(t.TempDir(), "mountinfo")
	base := "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"40 22 147:0 / /srv/data rw - ext4 /dev/drbd0 rw\n"
	for _, tt := range []struct {
		name, table string
		ok          bool
	}{
		{"bound", base + "41 22 147:0 /nfsinfo /var/lib/nfs rw - ext4 /dev/drbd0 rw\n", true},
		{"not mounted", base, false},
		{"another directory", base + "41 22 147:0 /other /var/lib/nfs rw - ext4 /dev/drbd0 rw\n", false},
		{"another device", base + "41 22 8:1 /srv/data/nfsinfo /var/lib/nfs rw - ext4 /dev/sda1 rw\n", false},
		{"the filesystem gone", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
			"41 22 147:0 /nfsinfo /var/lib/nfs rw - ext4 /dev/drbd0 rw\n", false},
	} {
		must(t, os.WriteFile(mountsFile, []byte(tt.table), 0o644))
		if ok, why := sharedMounted("/srv/data/nfsinfo"); ok != tt.ok {
			t.Errorf("%s: %v (%s), want %v", tt.name, ok, why, tt.ok)
		}
	}
}
