package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/proc"
)

// TrixieRoot returns the Debian 13 (trixie) userspace of the Pacemaker 3
// tiers, with paceline installed in it: make trixie builds it with
// tests/trixie-root.sh (cached under CacheRoot()), installs paceline
// into it with make install DESTDIR=, and make system hands its path to
// the tests in PACELINE_TRIXIE_ROOT. Without it the test skips, or fails
// under CI.
func TrixieRoot(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	root := os.Getenv("PACELINE_TRIXIE_ROOT")
	Require(t, root != "", "PACELINE_TRIXIE_ROOT is not set (make trixie builds the Debian 13 root; make system sets it)")
	_, err := os.Stat(filepath.Join(root, ".complete"))
	Require(t, err == nil, "%s is not a complete Debian 13 root (make trixie): %v", root, err)
	err = CheckInstalledAt(root, os.Getenv("PACELINE_BIN"))
	Require(t, err == nil, "%v", err)
	return root
}

// RootPackages returns the versions of the packages installed in a root
// made by tests/trixie-root.sh, by package name.
func RootPackages(root string) map[string]string {
	data, _ := os.ReadFile(filepath.Join(root, ".packages"))
	pkgs := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if name, ver, ok := strings.Cut(line, " "); ok && ver != "" {
			pkgs[name] = ver
		}
	}
	return pkgs
}

// RootCommand returns a command that runs name inside the userspace
// root, as a chroot would but without changing the root: in a mount
// namespace of its own, on an overlay of root whose changes go to a
// directory of the test's (gone with it), with /proc, /sys and /dev
// mounted and this machine's /tmp bound at the same path, so that files
// a test writes there are seen inside.
func RootCommand(t testing.TB, ctx context.Context, root, name string, args ...string) *proc.Cmd {
	t.Helper()
	RequireRoot(t, "unshare", "chroot")
	dir := t.TempDir()
	for _, d := range []string{"top", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := `set -e
top=$1/top root=$2; shift 2
mount -t overlay overlay -o "lowerdir=$root,upperdir=$top/../upper,workdir=$top/../work" "$top"
mount -t proc proc "$top/proc"
mount -t sysfs sysfs "$top/sys"
mount --rbind /dev "$top/dev"
mount --rbind /tmp "$top/tmp"
exec chroot "$top" "$@"`
	argv := append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", dir, root, name}, args...)
	cmd := proc.Command(ctx, "unshare", argv...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/root", "TERM=dumb"}
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// InRoot runs name in the userspace root (RootCommand) for at most
// timeout and returns its combined output.
func InRoot(t testing.TB, root string, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := RootCommand(t, ctx, root, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %v", timeout, err)
	}
	return string(out), err
}

// RequireIn requires the programs in the userspace root ("" for this
// machine's, on PATH).
func RequireIn(t testing.TB, root string, progs ...string) {
	t.Helper()
	if root == "" {
		RequireRoot(t, progs...)
		return
	}
	RequireRoot(t)
	missing := rootPrograms(root, progs...)
	Require(t, len(missing) == 0, "the userspace %s lacks %v", root, missing)
}

// rootPrograms returns the programs of progs that root's usual
// directories lack.
func rootPrograms(root string, progs ...string) []string {
	var missing []string
	for _, p := range progs {
		found := false
		for _, d := range []string{"usr/sbin", "usr/bin", "sbin", "bin"} {
			if st, err := os.Stat(filepath.Join(root, d, p)); err == nil && st.Mode()&0o111 != 0 {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, p)
		}
	}
	return missing
}

// CheckInstalled checks that paceline is installed where Pacemaker looks
// (make install) and, when bin is set, that the installed binaries are
// bin and its paceline-fence and paceline-libvirt.
func CheckInstalled(bin string) error { return CheckInstalledAt("", bin) }

// CheckInstalledAt is CheckInstalled in the userspace root ("" for this
// machine's), where make install DESTDIR=root puts paceline.
func CheckInstalledAt(root, bin string) error {
	at := func(p string) string { return filepath.Join("/", root, p) }
	for _, p := range []string{"/usr/lib/ocf/resource.d/paceline/IPaddr2", "/usr/lib/ocf/resource.d/paceline/Filesystem",
		"/usr/lib/ocf/resource.d/paceline/VirtualDomain", "/usr/sbin/fence_paceline_ipmilan"} {
		// Stat through the links, which point at /usr/sbin/paceline
		// as the root sees it.
		if _, err := os.Lstat(at(p)); err != nil {
			return fmt.Errorf("paceline is not installed in %s (%v): run make install DESTDIR=%s", at("/"), err, root)
		}
	}
	if bin == "" {
		return nil
	}
	dir := filepath.Dir(bin)
	for _, p := range [][2]string{
		{bin, "/usr/sbin/paceline"},
		{filepath.Join(dir, "paceline-fence"), "/usr/libexec/paceline/paceline-fence"},
		{filepath.Join(dir, "paceline-libvirt"), "/usr/libexec/paceline/paceline-libvirt"},
	} {
		a, err1 := os.ReadFile(p[0])
		b, err2 := os.ReadFile(at(p[1]))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%s is not %s: run make install DESTDIR=%s", at(p[1]), p[0], root)
		}
	}
	return nil
}
