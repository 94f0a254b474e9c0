package harness

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// GuestImage is what a tiny TCG guest boots: a copy of the Debian kernel
// (its own copy, so nothing changes the shared one) and a busybox
// initramfs. The guest has no disk and no network; on its serial console
// it prints "BOOTED-OK uptime=<s>" once, then "COUNTER <n> up=<s>" every
// second. It powers off on an ACPI power-button event, unless "noacpid"
// is on its kernel command line.
type GuestImage struct {
	Kernel string // vmlinuz
	Initrd string // gzip-compressed newc cpio
}

// guestInit is the guest's /init. acpid comes up about 5 s after start
// under TCG: an ACPI shutdown sent before BOOTED-OK is lost.
const guestInit = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
if ! grep -qw noacpid /proc/cmdline; then
	for m in /lib/modules/*.ko; do [ -e "$m" ] && insmod "$m"; done
	acpid -l /dev/null
fi
echo "BOOTED-OK uptime=$(cut -d' ' -f1 /proc/uptime)"
i=0
while :; do
	i=$((i+1))
	echo "COUNTER $i up=$(cut -d' ' -f1 /proc/uptime)"
	sleep 1
done
`

// guestPowerButton is busybox acpid's action for the power button
// (event PWRF/00000080).
const guestPowerButton = "#!/bin/sh\npoweroff -f\n"

// guestModules are the modules ACPI power-button events need, relative
// to lib/modules/<ver>/kernel.
var guestModules = []string{"drivers/input/evdev", "drivers/acpi/button"}

// guestImageFormat changes whenever the way the image is built changes,
// so a cached image of an older harness is not reused.
const guestImageFormat = "guest-image-1"

// BuildGuestImage returns the guest image for DebianKernel, built once
// per machine under CacheRoot()/guest/<hash of its inputs> (the kernel
// version, the busybox binary, the init script).
func BuildGuestImage(t testing.TB) GuestImage {
	t.Helper()
	RequireRoot(t, "busybox")
	k := DebianKernel(t)
	bb, _ := exec.LookPath("busybox")
	bbData, err := os.ReadFile(bb)
	if err != nil {
		t.Fatalf("guest image: %v", err)
	}
	Require(t, isStaticELF(bbData), "%s must be statically linked (busybox-static)", bb)
	mods := map[string]string{} // name in the image -> source
	for _, m := range guestModules {
		src, builtin := findModule(k.Modules, m)
		if builtin {
			continue
		}
		if src == "" {
			t.Fatalf("guest image: kernel %s has no module %s", k.Version, m)
		}
		mods[filepath.Base(m)+".ko"] = src
	}

	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", guestImageFormat, k.Version, guestInit, guestPowerButton)
	h.Write(bbData)
	for _, name := range sortedKeys(mods) {
		fmt.Fprintf(h, "\x00%s=%s", name, mods[name])
	}
	dir := filepath.Join(cacheDir(t, "guest"), hex.EncodeToString(h.Sum(nil))[:16])
	img := GuestImage{Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.gz")}
	ready := filepath.Join(dir, "ready")
	if _, err := os.Stat(ready); err == nil {
		return img
	}
	unlock := lockCache(t, "guest")
	defer unlock()
	if _, err := os.Stat(ready); err == nil {
		return img
	}
	if err := buildGuestImage(dir, k, bb, bbData, mods); err != nil {
		t.Fatalf("guest image: %v", err)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatalf("guest image: %v", err)
	}
	t.Logf("guest image: built %s", dir)
	return img
}

func buildGuestImage(dir string, k Kernel, bb string, bbData []byte, mods map[string]string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	vmlinuz, err := os.ReadFile(k.Vmlinuz)
	if err != nil {
		return err
	}
	if err := ocf.WriteFileAtomic(filepath.Join(dir, "vmlinuz"), vmlinuz, 0o644); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	w := &cpioWriter{w: zw}
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules"} {
		w.dir(d)
	}
	w.chardev("dev/console", 5, 1) // init's stdio before devtmpfs is mounted
	w.file("bin/busybox", 0o755, bbData)
	for _, a := range strings.Fields(string(out)) {
		// The list names busybox itself: a link of that name would
		// replace the binary.
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		w.symlink("bin/"+a, "busybox")
	}
	for _, name := range sortedKeys(mods) {
		data, err := readModule(mods[name])
		if err != nil {
			return err
		}
		w.file("lib/modules/"+name, 0o644, data)
	}
	w.file("etc/acpi/PWRF/00000080", 0o755, []byte(guestPowerButton))
	w.file("init", 0o755, []byte(guestInit))
	w.trailer()
	if w.err != nil {
		return w.err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return ocf.WriteFileAtomic(filepath.Join(dir, "initrd.gz"), buf.Bytes(), 0o644)
}

// findModule returns the file of a module (plain or compressed) under
// modules/kernel, or builtin when the kernel has it built in.
func findModule(modules, rel string) (path string, builtin bool) {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		p := filepath.Join(modules, "kernel", rel+ext)
		if _, err := os.Stat(p); err == nil {
			return p, false
		}
	}
	data, _ := os.ReadFile(filepath.Join(modules, "modules.builtin"))
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "kernel/"+rel+".ko" {
			return "", true
		}
	}
	return "", false
}

// readModule returns a module's contents, decompressed: the guest's
// busybox insmod takes plain .ko files.
func readModule(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return os.ReadFile(path)
	case strings.HasSuffix(path, ".gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(path, ".xz"):
		return exec.Command("xz", "-dc", path).Output()
	case strings.HasSuffix(path, ".zst"):
		return exec.Command("zstd", "-dcq", path).Output()
	}
	return nil, fmt.Errorf("%s: unknown module format", path)
}

// isStaticELF reports whether data is an ELF executable without an
// interpreter (statically linked).
func isStaticELF(data []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cpioWriter writes a "newc" cpio archive, the format of an initramfs.
// Everything is owned by root with mtime 0, so the same inputs give the
// same bytes.
type cpioWriter struct {
	w   io.Writer
	ino int
	err error
}

const (
	cpioDir     = 0o040000
	cpioFile    = 0o100000
	cpioSymlink = 0o120000
	cpioChar    = 0o020000
)

func (c *cpioWriter) entry(name string, mode, rmaj, rmin int, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmaj, rmin, len(name)+1, 0)
	var b bytes.Buffer
	b.WriteString(hdr)
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	_, c.err = c.w.Write(b.Bytes())
}

func (c *cpioWriter) dir(name string)                      { c.entry(name, cpioDir|0o755, 0, 0, nil) }
func (c *cpioWriter) file(name string, perm int, d []byte) { c.entry(name, cpioFile|perm, 0, 0, d) }
func (c *cpioWriter) symlink(name, target string) {
	c.entry(name, cpioSymlink|0o777, 0, 0, []byte(target))
}
func (c *cpioWriter) chardev(name string, maj, min int) { c.entry(name, cpioChar|0o600, maj, min, nil) }
func (c *cpioWriter) trailer()                          { c.entry("TRAILER!!!", 0, 0, 0, nil) }

// GuestSpec describes one guest domain.
type GuestSpec struct {
	Name string
	UUID string // random when empty
	// NoUUID leaves the uuid element out, as many hand-written configs
	// do: libvirt then makes one up at every define.
	NoUUID bool
	// SerialPath is the file the serial console appends to, as the
	// libvirt host sees it; empty: /var/log/libvirt/qemu/<Name>.serial,
	// which LibvirtHost.SerialLog finds from the root namespace.
	SerialPath   string
	IgnoreACPI   bool // "noacpid": the guest ignores ACPI shutdown requests
	MemoryMiB    int  // 96 when 0
	ExtraCmdline string
}

// GuestSerialPath is the serial file of a guest named name when
// GuestSpec.SerialPath is empty, as its libvirt host sees it.
func GuestSerialPath(name string) string {
	return "/var/log/libvirt/qemu/" + name + ".serial"
}

// DomainXML renders a libvirt domain booting img under TCG (type
// 'qemu'): one vCPU, no disk, no NIC, no USB controller, no balloon,
// ACPI on, destroyed on power-off, its serial console appended to a
// file.
func (img GuestImage) DomainXML(s GuestSpec) string {
	e := func(v string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(v))
		return strings.ReplaceAll(b.String(), "'", "&apos;")
	}
	if s.UUID == "" {
		s.UUID = randomUUID()
	}
	uuid := "\n  <uuid>" + e(s.UUID) + "</uuid>"
	if s.NoUUID {
		uuid = ""
	}
	if s.SerialPath == "" {
		s.SerialPath = GuestSerialPath(s.Name)
	}
	if s.MemoryMiB == 0 {
		s.MemoryMiB = 96
	}
	cmdline := "console=ttyS0 quiet panic=-1"
	if s.IgnoreACPI {
		cmdline += " noacpid"
	}
	if s.ExtraCmdline != "" {
		cmdline += " " + s.ExtraCmdline
	}
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>%s
  <memory unit='MiB'>%d</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>%s</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'>
      <source path='%s' append='on'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`, e(s.Name), uuid, s.MemoryMiB, e(img.Kernel), e(img.Initrd), e(cmdline), e(s.SerialPath))
}

// randomUUID returns a random (version 4) UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
