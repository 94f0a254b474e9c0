//go:build system

package filesystem_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// TestBindMountViews runs a bind mount's start, monitor and stop the
// same way from three places: this machine, a chroot, and a container
// (a mount namespace that pivoted into its root, as container runtimes
// and Pacemaker bundles do). In a chroot the kernel leaves the mounts
// outside the root out of /proc/self/mountinfo, and the root field of a
// bind mount is the source's path within its filesystem (/<chroot>/src),
// not the path the agent sees (/src): the agent once took its own bind
// mount there for somebody else's.
func TestBindMountViews(t *testing.T) {
	h.RequireRoot(t, "unshare", "busybox")
	bin := filepath.Join(h.Install(t), "paceline")
	busybox := proc.Run(t, "sh", "-c", "command -v busybox")
	for _, view := range []string{"host", "chroot", "container"} {
		t.Run(view, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			for _, d := range []string{"bin", "proc", "dev", "tmp/src", "tmp/mnt", "tmp/other", "run/resource-agents"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []struct{ from, to string }{{bin, "paceline"}, {strings.TrimSpace(busybox), "bin/busybox"}} {
				data, err := os.ReadFile(f.from)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, f.to), data, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// The tools the script runs, for busybox in the root.
			for _, applet := range []string{"sh", "mount", "umount", "cat", "grep"} {
				if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "tmp/src/data"), []byte("source\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// The agent's paths as the agent sees them: the root's own
			// on this machine, / in the chroot and the container.
			at := "/"
			if view == "host" {
				at = root
			}
			out := runView(t, view, root, strings.TrimSpace(busybox), bindScript(filepath.Join(at, "paceline"), at))
			want := []string{
				"start 0",               // mounted
				"monitor 0",             // and seen as ours
				"monitor-depth20 0",     // read and written through
				"data source",           // the mount shows the source
				"stop 0",                // and is unmounted
				"after-stop 7",          // not running
				"foreign-start 1",       // another directory mounted there: refused
				"foreign-monitor 1",     // not taken for ours either
				"foreign-stop 0",        // not ours to stop: success, and
				"foreign-still mounted", // left alone
			}
			var got []string
			for _, m := range regexp.MustCompile(`(?m)^RESULT (.*)$`).FindAllStringSubmatch(out, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("in the %s view:\n%s\nwant\n%s\n--- output\n%s", view, strings.Join(got, "\n"), strings.Join(want, "\n"), out)
			}
			if h.Mounted(filepath.Join(root, "tmp/mnt")) {
				t.Errorf("%s/tmp/mnt still mounted on this machine after the test", root)
			}
		})
	}
}

// bindScript is the shell script (busybox sh) that drives the agent at
// paceline inside a view whose root directory is at, and prints
// "RESULT <step> <exit code>" lines.
func bindScript(paceline, at string) string {
	p := func(rel string) string { return filepath.Join(at, rel) }
	run := fmt.Sprintf("HA_RSCTMP=%s %s run -n bind Filesystem", p("run/resource-agents"), paceline)
	params := fmt.Sprintf("device=%s directory=%s fstype=none options=bind", p("tmp/src"), p("tmp/mnt"))
	return fmt.Sprintf(`
%[1]s start %[2]s >&2; echo "RESULT start $?"
%[1]s monitor --interval 10s %[2]s >&2; echo "RESULT monitor $?"
%[1]s monitor --interval 10s --depth 20 %[2]s >&2; echo "RESULT monitor-depth20 $?"
echo "RESULT data $(cat %[3]s/data)"
%[1]s stop %[2]s >&2; echo "RESULT stop $?"
%[1]s monitor --interval 10s %[2]s >&2; echo "RESULT after-stop $?"
mount --bind %[4]s %[5]s
%[1]s start %[2]s >&2; echo "RESULT foreign-start $?"
%[1]s monitor --interval 10s %[2]s >&2; echo "RESULT foreign-monitor $?"
%[1]s stop %[2]s >&2; echo "RESULT foreign-stop $?"
if grep -q " %[5]s " /proc/self/mountinfo; then echo "RESULT foreign-still mounted"; else echo "RESULT foreign-still gone"; fi
umount %[5]s
`, run, params, p("tmp/mnt"), p("tmp/other"), p("tmp/mnt"))
}

// runView runs script with busybox sh in a view of root: on this machine
// (in a private mount namespace, so that nothing it mounts outlives it),
// chrooted into root, or pivoted into it as a container.
func runView(t *testing.T, view, root, busybox, script string) string {
	t.Helper()
	// Before entering: /proc and /dev/null in the root (the agent's
	// runner reads /proc/self/exe and gives its child /dev/null).
	prep := fmt.Sprintf(`set -e
mount -t proc proc %[1]s/proc
touch %[1]s/dev/null
mount --bind /dev/null %[1]s/dev/null
`, root)
	var enter string
	switch view {
	case "host":
		enter = `exec "$0" sh -c "$1"`
	case "chroot":
		enter = fmt.Sprintf(`exec chroot %s /bin/busybox sh -c "PATH=/bin && $1"`, root)
	case "container":
		// The root becomes a mount of its own, the old root is put
		// away and detached: only the root's mounts are left.
		enter = fmt.Sprintf(`mount --bind %[1]s %[1]s
mount -t proc proc %[1]s/proc
mount --bind /dev/null %[1]s/dev/null
cd %[1]s && mkdir -p .old && pivot_root . .old
exec /bin/busybox sh -c "umount -l /.old && PATH=/bin && $1"`, root)
	}
	out, err := proc.Output(context.Background(), "unshare", "-m", "--propagation", "private", "sh", "-c", prep+enter, busybox, script)
	if err != nil {
		t.Fatalf("%s view: %v\n%s", view, err, out)
	}
	return out
}
