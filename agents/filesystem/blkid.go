package filesystem

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Identity is what a filesystem superblock says about itself.
type Identity struct {
	Type  string // ext4 (ext2/3/4 alike), xfs, btrfs
	UUID  string // lower-case 8-4-4-4-12
	Label string
}

// superblockSpan is how much of a device Probe needs to read.
const superblockSpan = 0x10000 + 4096

// Probe reads the identity of the filesystem at the start of b (the first
// superblockSpan bytes of a device). It knows ext2/3/4, xfs and btrfs,
// the local filesystems a cluster puts on shared or replicated storage.
func Probe(b []byte) (Identity, bool) {
	// ext2/3/4: superblock at 1024, magic 0xEF53 at +56.
	if len(b) >= 1024+136 && binary.LittleEndian.Uint16(b[1024+56:]) == 0xEF53 {
		sb := b[1024:]
		return Identity{Type: "ext4", UUID: formatUUID(sb[104:120]), Label: cstr(sb[120:136])}, true
	}
	// xfs: "XFSB" at 0, UUID at 32, label (12 bytes) at 108.
	if len(b) >= 120 && string(b[0:4]) == "XFSB" {
		return Identity{Type: "xfs", UUID: formatUUID(b[32:48]), Label: cstr(b[108:120])}, true
	}
	// btrfs: superblock at 64 KiB, magic at +64, fsid at +32, label at +299.
	if len(b) >= 0x10000+299+256 && string(b[0x10000+64:0x10000+72]) == "_BHRfS_M" {
		sb := b[0x10000:]
		return Identity{Type: "btrfs", UUID: formatUUID(sb[32:48]), Label: cstr(sb[299 : 299+256])}, true
	}
	return Identity{}, false
}

func formatUUID(u []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// probeDevice reads the identity of the filesystem on a block device.
func probeDevice(path string) (Identity, bool) {
	f, err := os.Open(path)
	if err != nil {
		return Identity{}, false
	}
	defer f.Close()
	b := make([]byte, superblockSpan)
	n, _ := f.ReadAt(b, 0)
	return Probe(b[:n])
}

// DeviceSpec is a device parameter split into how it names the device.
type DeviceSpec struct {
	Path  string // a path (/dev/sdb1, /dev/disk/by-id/..., a directory, host:/export)
	UUID  string // UUID=, -U, --uuid
	Label string // LABEL=, -L, --label
}

// ParseDevice understands the forms upstream accepts: a path, UUID=x,
// LABEL=x, -U x, -L x, --uuid=x, --label=x.
func ParseDevice(s string) DeviceSpec {
	s = strings.TrimSpace(s)
	for _, p := range []struct{ prefix, kind string }{
		{"UUID=", "u"}, {"--uuid=", "u"}, {"--uuid ", "u"}, {"-U", "u"},
		{"LABEL=", "l"}, {"--label=", "l"}, {"--label ", "l"}, {"-L", "l"},
	} {
		if strings.HasPrefix(s, p.prefix) {
			v := strings.Trim(strings.TrimSpace(s[len(p.prefix):]), `"`)
			if p.kind == "u" {
				return DeviceSpec{UUID: strings.ToLower(v)}
			}
			return DeviceSpec{Label: v}
		}
	}
	return DeviceSpec{Path: s}
}

// String gives the device as the administrator wrote it, for messages.
func (d DeviceSpec) String() string {
	switch {
	case d.UUID != "":
		return "UUID=" + d.UUID
	case d.Label != "":
		return "LABEL=" + d.Label
	}
	return d.Path
}

// Matches reports whether a filesystem identity is the one d names by
// UUID or label.
func (d DeviceSpec) Matches(id Identity) bool {
	switch {
	case d.UUID != "":
		return strings.EqualFold(d.UUID, id.UUID)
	case d.Label != "":
		return d.Label == id.Label
	}
	return false
}

// findByIdentity looks through the block devices of this host for the one
// whose filesystem has the UUID or label d names (what blkid -U/-L does,
// without udev's /dev/disk/by-* links, which many hosts lack). Devices
// that other devices are stacked on (a DRBD or LVM backing device, a
// multipath path) are passed over: the filesystem is to be mounted from
// the top of the stack. It returns every match; more than one is for the
// caller to refuse.
func findByIdentity(d DeviceSpec) []string {
	names, _ := filepath.Glob("/sys/class/block/*")
	var found []string
	for _, n := range names {
		if holders, _ := os.ReadDir(filepath.Join(n, "holders")); len(holders) > 0 {
			continue
		}
		dev := "/dev/" + filepath.Base(n)
		if id, ok := probeDevice(dev); ok && d.Matches(id) {
			found = append(found, dev)
		}
	}
	return found
}
