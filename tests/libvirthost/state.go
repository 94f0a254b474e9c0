package libvirthost

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
)

// Mount is a path of a libvirt host's private state (Sub, under its
// directory) and where it is bind-mounted inside the host (Target).
type Mount struct{ Sub, Target string }

// StateMounts are the libvirt paths of PrepareState's directory.
var StateMounts = []Mount{
	{"etc", "/etc/libvirt"},
	{"lib", "/var/lib/libvirt"},
	{"log", "/var/log/libvirt"},
	{"cache", "/var/cache/libvirt"},
	{"resolv.conf", "/etc/resolv.conf"},
}

// PrepareState makes the private state of a libvirt host named name
// with address ip under dir: run/, etc/ (the /etc/libvirt of the
// userspace root, "" for this machine's, with the settings below), lib/,
// log/, cache/ (seeded with the cached qemu capabilities) and
// resolv.conf; the caller bind-mounts them as StateMounts say (and run/
// over /run) inside the host's namespaces.
func PrepareState(dir, root, name, ip string) error {
	for _, sub := range []string{"run", "lib", "log/qemu", "cache/qemu/capabilities"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	if err := copyLibvirtConfig(filepath.Join("/", root, "etc/libvirt"), filepath.Join(dir, "etc")); err != nil {
		return err
	}
	// host_uuid: without DMI the default is random per start, and the
	// machine-id is shared by all namespaces; libvirt refuses to migrate
	// "to the same host".
	if err := appendFile(filepath.Join(dir, "etc", "libvirtd.conf"), fmt.Sprintf(`
# paceline test host %s
listen_tls = 0
listen_tcp = 1
listen_addr = %q
auth_tcp = "none"
host_uuid = %q
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
`, name, ip, guestimage.RandomUUID())); err != nil {
		return err
	}
	// root/root: /dev/kvm is not usable by libvirt-qemu, which made
	// libvirt re-probe qemu on every define. No cgroups: two daemons
	// would share machine/qemu-<id>-<name>. File stdio: no virtlogd.
	if err := appendFile(filepath.Join(dir, "etc", "qemu.conf"), fmt.Sprintf(`
# paceline test host %s
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
migration_address = %q
`, name, ip)); err != nil {
		return err
	}
	// DNS fails at once instead of timing out.
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		return err
	}
	seedCapabilities(filepath.Join(dir, "cache", "qemu", "capabilities"), root)
	return nil
}

// capsCacheSub is harness.CacheRoot()/libvirt-caps: a previous daemon's
// /var/cache/libvirt/qemu/capabilities/*.xml. libvirt checks the copy
// itself (qemu binary, libvirt version, kernel) and probes again when it
// no longer matches.
const capsCacheSub = "libvirt-caps"

// capsCache is the capabilities cache of the daemons of a userspace
// root ("" for this machine's): one apiece, since the files are named
// after the qemu binary's path, the same in each, and each userspace
// would otherwise make the other's daemons probe qemu again.
func capsCache(root string) string {
	if root == "" {
		return capsCacheSub
	}
	return capsCacheSub + "-" + filepath.Base(root)
}

// seedCapabilities copies the cached capabilities of root's daemons
// into dir.
func seedCapabilities(dir, root string) {
	files, _ := filepath.Glob(filepath.Join(harness.CacheRoot(), capsCache(root), "*.xml"))
	for _, f := range files {
		if data, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600)
		}
	}
}

// SaveCapabilities refreshes the cache of root's daemons from the
// newest copy of each capabilities file in dirs (libvirt hosts'
// cache/qemu/capabilities).
func SaveCapabilities(root string, dirs ...string) error {
	latest := map[string]string{} // file name -> newest copy
	mtimes := map[string]time.Time{}
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.xml"))
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				continue
			}
			name := filepath.Base(f)
			if st.ModTime().After(mtimes[name]) {
				latest[name], mtimes[name] = f, st.ModTime()
			}
		}
	}
	if len(latest) == 0 {
		return nil
	}
	dir := filepath.Join(harness.CacheRoot(), capsCache(root))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := harness.LockCache(capsCache(root))
	if err != nil {
		return err
	}
	defer unlock()
	for name, f := range latest {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		dst := filepath.Join(dir, name)
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := ocf.WriteFileAtomic(dst, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// copyLibvirtConfig copies this machine's /etc/libvirt for a test host,
// without its domains, and without autostart links (the default network
// would need dnsmasq).
func copyLibvirtConfig(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && filepath.Base(rel) == "autostart" {
			return fs.SkipDir
		}
		if !d.IsDir() && filepath.Dir(rel) == "qemu" && strings.HasSuffix(rel, ".xml") {
			return nil // a domain of this machine
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		case d.Type().IsRegular():
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
