package guestimage

import (
	"crypto/rand"
	_ "embed"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

//go:embed init.sh
var tinyInit []byte

//go:embed powerbtn.sh
var tinyPowerButton []byte

// Tiny returns the image of a tiny TCG guest: no disk, no network; on its
// serial console it prints "BOOTED-OK uptime=<s>" once, then "COUNTER <n>
// up=<s>" every second (LastCounter reads it). It powers off on an ACPI
// power-button event, unless "noacpid" is on its kernel command line
// (Domain.IgnoreACPI).
func Tiny(t testing.TB) Image {
	t.Helper()
	return Make(t, Spec{
		Name: "guest", Format: "guest-image-2",
		// What ACPI power-button events need.
		Modules: []string{"evdev", "button"},
		Dirs:    []string{"etc", "etc/acpi", "etc/acpi/PWRF"},
		Files: []File{
			{Path: "etc/acpi/PWRF/00000080", Mode: 0o755, Data: tinyPowerButton},
			{Path: "init", Mode: 0o755, Data: tinyInit},
		},
	})
}

// LastCounter returns the highest n of the "COUNTER n" lines in serial
// (a tiny guest's serial output), or 0.
func LastCounter(serial string) int {
	max := 0
	for _, line := range strings.Split(serial, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "COUNTER" {
				continue
			}
			if n, err := strconv.Atoi(f[i+1]); err == nil && n > max {
				max = n
			}
		}
	}
	return max
}

// Domain describes one libvirt domain of an image.
type Domain struct {
	Name string
	UUID string // random when empty
	// NoUUID leaves the uuid element out, as many hand-written configs
	// do: libvirt then makes one up at every define.
	NoUUID bool
	// SerialPath is the file the serial console appends to, as the
	// libvirt host sees it; empty: /var/log/libvirt/qemu/<Name>.serial,
	// which libvirthost.Host.SerialLog finds from the root namespace.
	SerialPath   string
	IgnoreACPI   bool // "noacpid": the guest ignores ACPI shutdown requests
	MemoryMiB    int  // 96 when 0
	ExtraCmdline string
}

// SerialPath is the serial file of a domain named name when
// Domain.SerialPath is empty, as its libvirt host sees it.
func SerialPath(name string) string {
	return "/var/log/libvirt/qemu/" + name + ".serial"
}

// DomainXML renders a libvirt domain booting img under TCG (type
// 'qemu'): one vCPU, no disk, no NIC, no USB controller, no balloon,
// ACPI on, destroyed on power-off, its serial console appended to a
// file.
func (img Image) DomainXML(s Domain) string {
	e := func(v string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(v))
		return strings.ReplaceAll(b.String(), "'", "&apos;")
	}
	if s.UUID == "" {
		s.UUID = RandomUUID()
	}
	uuid := "\n  <uuid>" + e(s.UUID) + "</uuid>"
	if s.NoUUID {
		uuid = ""
	}
	if s.SerialPath == "" {
		s.SerialPath = SerialPath(s.Name)
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

// RandomUUID returns a random (version 4) UUID.
func RandomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
