package filesystem

import (
	"encoding/binary"
	"testing"
)

func TestProbe(t *testing.T) {
	uuid := []byte{0x0b, 0x7a, 0x1c, 0x5e, 0x11, 0x11, 0x42, 0x22, 0x83, 0x33, 0x94, 0x44, 0x55, 0x55, 0x66, 0x66}
	ext := make([]byte, superblockSpan)
	binary.LittleEndian.PutUint16(ext[1024+56:], 0xEF53)
	copy(ext[1024+104:], uuid)
	copy(ext[1024+120:], "data1")
	xfs := make([]byte, superblockSpan)
	copy(xfs, "XFSB")
	copy(xfs[32:], uuid)
	copy(xfs[108:], "xdata")
	btrfs := make([]byte, superblockSpan)
	copy(btrfs[0x10000+64:], "_BHRfS_M")
	copy(btrfs[0x10000+32:], uuid)
	copy(btrfs[0x10000+299:], "bdata")
	tests := []struct {
		name string
		b    []byte
		want Identity
		ok   bool
	}{
		{"ext4", ext, Identity{"ext4", "0b7a1c5e-1111-4222-8333-944455556666", "data1"}, true},
		{"xfs", xfs, Identity{"xfs", "0b7a1c5e-1111-4222-8333-944455556666", "xdata"}, true},
		{"btrfs", btrfs, Identity{"btrfs", "0b7a1c5e-1111-4222-8333-944455556666", "bdata"}, true},
		{"zeros", make([]byte, superblockSpan), Identity{}, false},
		{"short", []byte("XFS"), Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Probe(tt.b)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Probe() = %+v, %v, want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseDevice(t *testing.T) {
	tests := []struct {
		in   string
		want DeviceSpec
	}{
		{"/dev/sdb1", DeviceSpec{Path: "/dev/sdb1"}},
		{"UUID=0B7A1C5E-1111-4222-8333-944455556666", DeviceSpec{UUID: "0b7a1c5e-1111-4222-8333-944455556666"}},
		{"LABEL=data1", DeviceSpec{Label: "data1"}},
		{"-U abc", DeviceSpec{UUID: "abc"}},
		{"-Ldata1", DeviceSpec{Label: "data1"}},
		{"--label=data 1", DeviceSpec{Label: "data 1"}},
		{"--uuid abc", DeviceSpec{UUID: "abc"}},
		{"192.0.2.1:/export", DeviceSpec{Path: "192.0.2.1:/export"}},
	}
	for _, tt := range tests {
		if got := ParseDevice(tt.in); got != tt.want {
			t.Errorf("ParseDevice(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
