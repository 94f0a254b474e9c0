package exportfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// The agent's children run as this test binary (FSMain).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == FSCommand {
		os.Exit(FSMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// fakeExportfs is exportfs(8) on the table etab: it adds and removes
// lines as the real one does (a client loses its IPv6 brackets), and
// logs its calls.
const fakeExportfs = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
opts=
while [ $# -gt 0 ]; do
	case $1 in
	-v) ;;
	-f) exit 0 ;;
	-o) shift; opts=$1 ;;
	-u) shift; spec=$(echo "${1%%:/*}" | tr -d '[]'); dir=/${1#*:/}
		grep -v -F -x "$(printf '%s\t%s(%s)' "$dir" "$spec" x)" "$FAKE_ETAB" > "$FAKE_ETAB.new" 2>/dev/null
		awk -v d="$dir" -v s="$spec" -F '\t' '!($1 == d && index($2, s "(") == 1)' "$FAKE_ETAB" > "$FAKE_ETAB.new"
		mv "$FAKE_ETAB.new" "$FAKE_ETAB"; exit 0 ;;
	*) spec=$(echo "${1%%:/*}" | tr -d '[]'); dir=/${1#*:/}
		[ -d "$dir" ] || { echo "exportfs: Failed to stat $dir" >&2; exit 1; }
		printf '%s\t%s(%s)\n' "$dir" "$spec" "$opts" >> "$FAKE_ETAB"; exit 0 ;;
	esac
	shift
done
`

type fake struct {
	t        *testing.T
	dir      string // scratch: exported directories below it
	state    string // HA_RSCTMP
	etab     string
	log      string
	instance string
}

func newFake(t *testing.T) *fake {
	dir := t.TempDir()
	f := &fake{t: t, dir: dir, state: filepath.Join(dir, "rsctmp"), etab: filepath.Join(dir, "etab"),
		log: filepath.Join(dir, "calls"), instance: "nfs_export"}
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "exportfs"), []byte(fakeExportfs), 0o755))
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_ETAB", f.etab)
	t.Setenv("FAKE_LOG", f.log)
	must(t, os.WriteFile(f.etab, nil, 0o644))
	for _, p := range []*string{&etabPath, &rmtabPath, &cachePath, &unlockPath, &leasePath} {
		old := *p
		t.Cleanup(func() { *p = old })
	}
	etabPath, rmtabPath = f.etab, filepath.Join(dir, "rmtab")
	cachePath, unlockPath, leasePath = filepath.Join(dir, "cache"), filepath.Join(dir, "no-unlock"), filepath.Join(dir, "no-lease")
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// call runs one action; params are name=value pairs.
func (f *fake) call(action string, params ...string) (ocf.Status, string) {
	f.t.Helper()
	env := []string{"HA_RSCTMP=" + f.state, "OCF_RESOURCE_INSTANCE=" + f.instance, "OCF_RESKEY_CRM_meta_timeout=20000",
		"HA_LOGFACILITY=none"}
	for i := 0; i+1 < len(params); i += 2 {
		env = append(env, "OCF_RESKEY_"+params[i]+"="+params[i+1])
	}
	var out, errOut strings.Builder
	code := ocf.Exec(Agent(), ocf.Invocation{Args: []string{"exportfs", action}, Env: env, Stdout: &out, Stderr: &errOut})
	return code, errOut.String()
}

func (f *fake) etabText() string {
	data, _ := os.ReadFile(f.etab)
	return string(data)
}

func TestStartMonitorStop(t *testing.T) {
	f := newFake(t)
	a := filepath.Join(f.dir, "a")
	must(t, os.MkdirAll(a, 0o755))
	p := []string{"directory", a + "/", "clientspec", "192.0.2.0/24", "options", "rw,sync", "fsid", "7"}

	if code, _ := f.call("monitor", p...); code != ocf.NotRunning {
		t.Fatalf("probe before start: %v", code)
	}
	if code, errs := f.call("start", p...); code != ocf.Success {
		t.Fatalf("start: %v %s", code, errs)
	}
	if want := a + "\t192.0.2.0/24(rw,sync,fsid=7)\n"; f.etabText() != want {
		t.Errorf("etab %q, want %q", f.etabText(), want)
	}
	if code, errs := f.call("monitor", p...); code != ocf.Success {
		t.Errorf("monitor: %v %s", code, errs)
	}
	// A second start finds it exported and runs exportfs no more.
	calls, _ := os.ReadFile(f.log)
	if code, _ := f.call("start", p...); code != ocf.Success {
		t.Errorf("second start: %v", code)
	}
	if again, _ := os.ReadFile(f.log); string(again) != string(calls) {
		t.Errorf("the second start ran exportfs: %q", strings.TrimPrefix(string(again), string(calls)))
	}
	// Withdrawn behind the agent's back: the monitor sees it.
	must(t, os.WriteFile(f.etab, nil, 0o644))
	if code, _ := f.call("monitor", p...); code != ocf.NotRunning {
		t.Errorf("monitor after exportfs -u by hand: %v, want 7", code)
	}
	if code, _ := f.call("start", p...); code != ocf.Success {
		t.Fatalf("start again: %v", code)
	}
	if code, errs := f.call("stop", p...); code != ocf.Success {
		t.Fatalf("stop: %v %s", code, errs)
	}
	if f.etabText() != "" {
		t.Errorf("etab after stop: %q", f.etabText())
	}
	if code, _ := f.call("monitor", p...); code != ocf.NotRunning {
		t.Errorf("monitor after stop: %v", code)
	}
	if code, _ := f.call("stop", p...); code != ocf.Success {
		t.Errorf("second stop: %v", code)
	}
}

func TestSeveralDirsAndLinks(t *testing.T) {
	f := newFake(t)
	a, b := filepath.Join(f.dir, "a"), filepath.Join(f.dir, "b")
	must(t, os.MkdirAll(a, 0o755))
	must(t, os.MkdirAll(b, 0o755))
	link := filepath.Join(f.dir, "link-to-b")
	must(t, os.Symlink(b, link))
	p := []string{"directory", a + " " + link, "clientspec", "[fd00::]/64", "fsid", "10"}
	if code, errs := f.call("start", p...); code != ocf.Success {
		t.Fatalf("start: %v %s", code, errs)
	}
	want := a + "\tfd00::/64(fsid=10)\n" + b + "\tfd00::/64(fsid=11)\n"
	if f.etabText() != want {
		t.Errorf("etab %q, want %q (the link exported as its target)", f.etabText(), want)
	}
	if code, _ := f.call("monitor", p...); code != ocf.Success {
		t.Errorf("monitor: %v", code)
	}
	// The link now points elsewhere: monitor and stop still use what was
	// exported, and never look at the directories.
	must(t, os.Remove(link))
	if code, _ := f.call("monitor", p...); code != ocf.Success {
		t.Errorf("monitor with the link gone: %v", code)
	}
	if code, errs := f.call("stop", p...); code != ocf.Success || f.etabText() != "" {
		t.Errorf("stop: %v %s; etab %q", code, errs, f.etabText())
	}
}

func TestRefusals(t *testing.T) {
	f := newFake(t)
	if code, errs := f.call("start", "directory", filepath.Join(f.dir, "no_such"), "clientspec", "*", "fsid", "1"); code != ocf.ErrConfigured ||
		!strings.Contains(errs, "does not exist") {
		t.Errorf("start of a missing directory: %v %s", code, errs)
	}
	if code, _ := f.call("start", "directory", f.dir+" "+f.dir, "clientspec", "*", "fsid", "abc"); code != ocf.ErrConfigured {
		t.Errorf("two directories with fsid abc: %v", code)
	}
	// A stop that cannot read its configuration has nothing to undo.
	if code, _ := f.call("stop", "directory", f.dir); code != ocf.Success {
		t.Errorf("stop without clientspec: %v", code)
	}
}

// exported starts an export of a new directory "a" to everyone with
// fsid and returns the directory and the parameters.
func (f *fake) exported(fsid string) (string, []string) {
	f.t.Helper()
	a := filepath.Join(f.dir, "a")
	must(f.t, os.MkdirAll(a, 0o755))
	p := []string{"directory", a, "clientspec", "*", "fsid", fsid}
	if code, errs := f.call("start", p...); code != ocf.Success {
		f.t.Fatalf("start: %v %s", code, errs)
	}
	return a, p
}

func TestRmtabBackup(t *testing.T) {
	f := newFake(t)
	a, p := f.exported("3")
	entry := "192.0.2.50:" + a + ":0x00000001\n"
	must(t, os.WriteFile(rmtabPath, []byte(entry+"192.0.2.51:/other:0x00000001\n"), 0o644))
	backup := filepath.Join(a, ".rmtab")
	if code, _ := f.call("monitor", p...); code != ocf.Success {
		t.Fatal("monitor failed")
	}
	if got, _ := os.ReadFile(backup); string(got) != entry {
		t.Errorf("backup %q, want %q", got, entry)
	}
	// Unchanged entries: the next monitor writes nothing.
	must(t, os.Remove(backup))
	f.call("monitor", p...)
	if _, err := os.Stat(backup); err == nil {
		t.Error("a monitor rewrote an unchanged backup")
	}
	must(t, os.WriteFile(backup, []byte(entry), 0o644))
	// The node taking over merges the backup into its rmtab at start.
	other := newFake(t)
	etabPath, rmtabPath = other.etab, filepath.Join(other.dir, "rmtab")
	must(t, os.WriteFile(rmtabPath, []byte("192.0.2.9:/x:0x00000001\n"), 0o644))
	if code, errs := other.call("start", p...); code != ocf.Success {
		t.Fatalf("start on the other node: %v %s", code, errs)
	}
	if got, _ := os.ReadFile(rmtabPath); string(got) != entry+"192.0.2.9:/x:0x00000001\n" {
		t.Errorf("rmtab after the takeover %q", got)
	}
}

// A stop on a node whose record is gone (HA_RSCTMP is cleared at boot)
// still withdraws the configured export.
func TestStopWithoutRecord(t *testing.T) {
	f := newFake(t)
	_, p := f.exported("4")
	must(t, os.RemoveAll(f.state))
	if code, _ := f.call("monitor", p...); code != ocf.NotRunning {
		t.Errorf("monitor without the record: %v, want 7", code)
	}
	if code, errs := f.call("stop", p...); code != ocf.Success || f.etabText() != "" {
		t.Errorf("stop without the record: %v %s; etab %q", code, errs, f.etabText())
	}
}
