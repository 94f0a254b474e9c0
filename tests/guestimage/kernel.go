package guestimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// kernel is an unpacked Debian kernel package: the image qemu boots and
// the modules a guest's initramfs takes from. The kernel never runs on
// this machine.
type kernel struct {
	Vmlinuz string // <root>/boot/vmlinuz-<Version>
	Modules string // <root>/lib/modules/<Version>
	Version string // e.g. "6.1.0-56-amd64"
}

// kernelMetapackage is what debianKernel downloads first: it depends on
// the versioned image package of the distribution's current kernel.
const kernelMetapackage = "linux-image-amd64"

// debianKernel returns the distribution kernel, unpacked under
// CacheRoot()/kernel/<version>. The first call on a machine downloads
// linux-image-amd64 and the linux-image-<ver>-amd64 it depends on with
// apt-get download and unpacks the latter with dpkg-deb -x (no
// installation); later calls, from any process, find it there. The
// file "current" names the version in use. Without the packages (no
// network, no apt) the test skips, or fails under CI.
func debianKernel(t testing.TB) kernel {
	t.Helper()
	dir := harness.CacheDir(t, "kernel")
	if k, ok := cachedKernel(dir); ok {
		return k
	}
	harness.RequireRoot(t, "apt-get", "dpkg-deb")
	unlock, err := harness.LockCache("kernel")
	if err != nil {
		t.Fatalf("test cache lock: %v", err)
	}
	defer unlock()
	if k, ok := cachedKernel(dir); ok { // another process fetched it meanwhile
		return k
	}
	start := time.Now()
	k, err := fetchKernel(dir)
	harness.Require(t, err == nil, "Debian kernel package: %v", err)
	t.Logf("kernel: fetched %s into %s in %v", k.Version, dir, time.Since(start).Round(time.Millisecond))
	return k
}

// cachedKernel reads the kernel "current" names in dir.
func cachedKernel(dir string) (kernel, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "current"))
	if err != nil {
		return kernel{}, false
	}
	ver := strings.TrimSpace(string(data))
	if ver == "" || strings.ContainsAny(ver, "/ ") {
		return kernel{}, false
	}
	root := filepath.Join(dir, ver)
	k := kernel{Version: ver, Vmlinuz: filepath.Join(root, "boot", "vmlinuz-"+ver)}
	for _, m := range []string{"lib/modules", "usr/lib/modules"} {
		if st, err := os.Stat(filepath.Join(root, m, ver, "kernel")); err == nil && st.IsDir() {
			k.Modules = filepath.Join(root, m, ver)
			break
		}
	}
	if _, err := os.Stat(k.Vmlinuz); err != nil || k.Modules == "" {
		return kernel{}, false
	}
	return k, true
}

var kernelPackageRE = regexp.MustCompile(`^linux-image-[0-9][^ ,()|]*-amd64$`)

// fetchKernel downloads and unpacks the kernel into dir/<version> and
// points dir/current at it. It runs under the cache lock.
func fetchKernel(dir string) (kernel, error) {
	tmp, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return kernel{}, err
	}
	defer os.RemoveAll(tmp)
	// apt-get download writes into the working directory; as root it
	// downloads unsandboxed when _apt cannot write there (a warning).
	_ = os.Chmod(tmp, 0o755)
	meta, err := aptDownload(tmp, kernelMetapackage)
	if err != nil {
		return kernel{}, err
	}
	deps, err := kernelCommand(tmp, time.Minute, "dpkg-deb", "-f", meta, "Depends")
	if err != nil {
		return kernel{}, err
	}
	pkg := ""
	for _, alt := range strings.FieldsFunc(deps, func(r rune) bool { return r == ',' || r == '|' }) {
		name := strings.Fields(alt)
		if len(name) > 0 && kernelPackageRE.MatchString(name[0]) {
			pkg = name[0]
			break
		}
	}
	if pkg == "" {
		return kernel{}, fmt.Errorf("%s depends on no versioned kernel image: %q", kernelMetapackage, strings.TrimSpace(deps))
	}
	deb, err := aptDownload(tmp, pkg)
	if err != nil {
		return kernel{}, err
	}
	root := filepath.Join(tmp, "root")
	if _, err := kernelCommand(tmp, 5*time.Minute, "dpkg-deb", "-x", deb, root); err != nil {
		return kernel{}, err
	}
	ver := ""
	for _, m := range []string{"lib/modules", "usr/lib/modules"} {
		if ents, err := os.ReadDir(filepath.Join(root, m)); err == nil && len(ents) == 1 {
			ver = ents[0].Name()
			break
		}
	}
	if ver == "" {
		return kernel{}, fmt.Errorf("%s: not exactly one lib/modules/<version> in it", filepath.Base(deb))
	}
	final := filepath.Join(dir, ver)
	if err := os.RemoveAll(final); err != nil { // a half-made entry of an interrupted run
		return kernel{}, err
	}
	if err := os.Rename(root, final); err != nil {
		return kernel{}, err
	}
	if err := ocf.WriteFileAtomic(filepath.Join(dir, "current"), []byte(ver+"\n"), 0o644); err != nil {
		return kernel{}, err
	}
	k, ok := cachedKernel(dir)
	if !ok {
		return kernel{}, fmt.Errorf("%s has no boot/vmlinuz-%s or lib/modules/%s", pkg, ver, ver)
	}
	return k, nil
}

// aptDownload downloads one package into dir and returns the .deb path.
// A machine whose package lists are missing or stale (a fresh CI image
// with every package preinstalled) gets them refreshed once.
func aptDownload(dir, pkg string) (string, error) {
	if _, err := kernelCommand(dir, 10*time.Minute, "apt-get", "download", "-q", pkg); err != nil {
		if _, uerr := kernelCommand(dir, 10*time.Minute, "apt-get", "update", "-q"); uerr != nil {
			return "", fmt.Errorf("%v (apt-get update failed too: %v)", err, uerr)
		}
		if _, err := kernelCommand(dir, 10*time.Minute, "apt-get", "download", "-q", pkg); err != nil {
			return "", err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download %s: found %d .deb files", pkg, len(debs))
	}
	return debs[0], nil
}

// kernelCommand runs a bounded command in dir and returns its stdout.
func kernelCommand(dir string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := proc.Command(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(cmd.Env, "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
