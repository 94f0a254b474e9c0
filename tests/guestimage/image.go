// Package guestimage makes what the test harness's qemu guests boot: the
// Debian kernel (fetched once per machine into the test cache) and an
// initramfs of static busybox, the kernel modules a guest needs (with
// their dependencies) and the guest's own files. One builder (Make)
// serves every guest: the tiny counting guest of the libvirt tests
// (Tiny) and the DRBD guests (tests/drbdlab). Images are cached under
// harness.CacheRoot() by a hash of everything that goes into them.
package guestimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Image is what a guest boots: its own copy of the kernel (so that
// nothing a guest's host does changes the shared one) and a
// gzip-compressed newc cpio initramfs.
type Image struct {
	Kernel string // vmlinuz
	Initrd string // initrd.gz
}

// Spec is an initramfs. Every image has /bin/busybox (this machine's,
// which must be static) with a link per applet, /dev/console, /proc,
// /sys, the modules in /mod (/mod/<name>.ko, loaded in the order of
// /mod/order: each after its dependencies) and Files; /init is the
// guest's to give.
type Spec struct {
	Name    string   // the cache directory under harness.CacheRoot()
	Format  string   // changes whenever the way this image is built changes
	Modules []string // module names, e.g. "drbd"; built-in ones are left out
	Dirs    []string // more directories, parents first
	Files   []File
}

// File is a file of an initramfs.
type File struct {
	Path string // relative, e.g. "init"
	Mode int    // permission bits
	Data []byte
}

// Make returns the image of spec for the Debian kernel, built once per
// machine under CacheRoot()/<Name>/<hash of the inputs>. Skips without
// root or a static busybox; fails instead under CI.
func Make(t testing.TB, spec Spec) Image {
	t.Helper()
	harness.RequireRoot(t, "busybox")
	k := debianKernel(t)
	bb, _ := proc.LookPath("busybox")
	bbData, err := os.ReadFile(bb)
	if err != nil {
		t.Fatalf("guest image %s: %v", spec.Name, err)
	}
	harness.Require(t, isStaticELF(bbData), "%s must be statically linked (busybox-static)", bb)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", spec.Format, k.Version, strings.Join(spec.Modules, ","), strings.Join(spec.Dirs, ","))
	for _, f := range spec.Files {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.Path, f.Mode, len(f.Data))
		h.Write(f.Data)
	}
	h.Write(bbData)
	dir := filepath.Join(harness.CacheDir(t, spec.Name), hex.EncodeToString(h.Sum(nil))[:16])
	img := Image{Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.gz")}
	ready := filepath.Join(dir, "ready")
	if _, err := os.Stat(ready); err == nil {
		return img
	}
	unlock, err := harness.LockCache(spec.Name)
	if err != nil {
		t.Fatalf("test cache lock: %v", err)
	}
	defer unlock()
	if _, err := os.Stat(ready); err == nil {
		return img
	}
	start := time.Now()
	if err := build(dir, spec, k, bb, bbData); err != nil {
		t.Fatalf("guest image %s: %v", spec.Name, err)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		t.Fatalf("guest image %s: %v", spec.Name, err)
	}
	t.Logf("guest image: built %s in %v", dir, time.Since(start).Round(time.Millisecond))
	return img
}

// build writes the kernel's copy and the initramfs into dir.
func build(dir string, spec Spec, k kernel, bb string, bbData []byte) error {
	mods, err := moduleLoadOrder(k.Modules, spec.Modules)
	if err != nil {
		return err
	}
	list, err := proc.Command(context.Background(), bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %v", err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	w := &cpioWriter{w: zw}
	for _, d := range append([]string{"bin", "dev", "proc", "sys", "mod"}, spec.Dirs...) {
		w.dir(d)
	}
	w.chardev("dev/console", 5, 1) // init's stdio before devtmpfs is mounted
	w.file("bin/busybox", 0o755, bbData)
	for _, a := range strings.Fields(string(list)) {
		// The list names busybox itself: a link of that name would
		// replace the binary.
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		w.symlink("bin/"+a, "busybox")
	}
	var order strings.Builder
	for _, m := range mods {
		w.file("mod/"+m.name+".ko", 0o644, m.data)
		order.WriteString(m.name + "\n")
	}
	w.file("mod/order", 0o644, []byte(order.String()))
	for _, f := range spec.Files {
		w.file(f.Path, f.Mode, f.Data)
	}
	w.trailer()
	if w.err != nil {
		return w.err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil { // a half-made entry of an interrupted run
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
	return ocf.WriteFileAtomic(filepath.Join(dir, "initrd.gz"), buf.Bytes(), 0o644)
}

// cpioWriter writes a "newc" cpio archive, the format of an initramfs.
// Everything is owned by root with mtime 0, so the same inputs give the
// same bytes.
type cpioWriter struct {
	w   *gzip.Writer
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
