package guestimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/tests/proc"
)

// The archive is one cpio can read, with the entries as written.
func TestCpio(t *testing.T) {
	cpio, err := proc.LookPath("cpio")
	if err != nil {
		t.Skip("no cpio")
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	w := &cpioWriter{w: zw}
	w.dir("bin")
	w.file("bin/hello", 0o755, []byte("#!/bin/sh\necho hi\n"))
	w.symlink("bin/hi", "hello")
	w.file("odd", 0o644, []byte("x"))
	w.trailer()
	if w.err != nil || zw.Close() != nil {
		t.Fatal(w.err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(zr)
	dir := t.TempDir()
	cmd := proc.Command(context.Background(), cpio, "-idm", "--quiet", "--no-absolute-filenames")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v\n%s", err, out)
	}
	out, err := proc.Command(context.Background(), filepath.Join(dir, "bin", "hi")).Output()
	if err != nil || string(out) != "hi\n" {
		t.Errorf("bin/hi: %q %v", out, err)
	}
}

func TestLastCounter(t *testing.T) {
	serial := "BOOTED-OK uptime=1.2\nCOUNTER 1 up=2\nnoise COUNTER x\nCOUNTER 12 up=13\nCOUNTER 3 up=4\n"
	if n := LastCounter(serial); n != 12 {
		t.Errorf("LastCounter = %d, want 12", n)
	}
	if n := LastCounter("BOOTED-OK"); n != 0 {
		t.Errorf("LastCounter without counters = %d", n)
	}
}

func TestDomainXML(t *testing.T) {
	img := Image{Kernel: "/cache/guest/k'1/vmlinuz", Initrd: "/cache/guest/k'1/initrd.gz"}
	x := img.DomainXML(Domain{Name: "vm<1>", IgnoreACPI: true, ExtraCmdline: "x=1"})
	for _, want := range []string{"<name>vm&lt;1&gt;</name>", "<kernel>/cache/guest/k&#39;1/vmlinuz</kernel>",
		"<cmdline>console=ttyS0 quiet panic=-1 noacpid x=1</cmdline>", "<memory unit='MiB'>96</memory>",
		"<source path='/var/log/libvirt/qemu/vm&lt;1&gt;.serial' append='on'/>", "<uuid>"} {
		if !strings.Contains(x, want) {
			t.Errorf("DomainXML lacks %q:\n%s", want, x)
		}
	}
	if x := img.DomainXML(Domain{Name: "vm", NoUUID: true, SerialPath: "/tmp/s"}); strings.Contains(x, "<uuid>") || !strings.Contains(x, "'/tmp/s'") {
		t.Errorf("NoUUID, SerialPath:\n%s", x)
	}
}
