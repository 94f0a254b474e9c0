package filesystem

import (
	"testing"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

func TestJudge(t *testing.T) {
	blockCfg := &Config{Device: DeviceSpec{Path: "/dev/disk/by-id/x"}, Directory: "/mnt", FSType: "ext4"}
	uuidCfg := &Config{Device: DeviceSpec{UUID: "u-1"}, Directory: "/mnt", FSType: "ext4"}
	bindCfg := &Config{Device: DeviceSpec{Path: "/srv/www"}, Directory: "/mnt", FSType: "none"}
	nfsCfg := &Config{Device: DeviceSpec{Path: "server:/export/"}, Directory: "/mnt", FSType: "nfs"}
	glusterCfg := &Config{Device: DeviceSpec{Path: "localhost:/vol"}, Directory: "/mnt", FSType: "glusterfs"}
	loop0 := &mountinfo.Mount{ID: 10, Major: 7, Minor: 0, Root: "/", Point: "/mnt", FSType: "ext4", Source: "/dev/loop0"}
	loop1 := &mountinfo.Mount{ID: 11, Major: 7, Minor: 1, Root: "/", Point: "/mnt", FSType: "ext4", Source: "/dev/loop1"}
	btrfs := &mountinfo.Mount{ID: 12, Major: 0, Minor: 44, Root: "/", Point: "/mnt", FSType: "btrfs", Source: "/dev/loop0"}
	bindOK := &mountinfo.Mount{ID: 13, Major: 254, Minor: 0, Root: "/srv/www", Point: "/mnt", FSType: "ext4", Source: "/dev/vda"}
	bindOther := &mountinfo.Mount{ID: 14, Major: 254, Minor: 0, Root: "/", Point: "/mnt", FSType: "ext4", Source: "/dev/vda"}
	nfs4 := &mountinfo.Mount{ID: 15, Point: "/mnt", FSType: "nfs4", Source: "192.0.2.1:/export"}
	gl := &mountinfo.Mount{ID: 16, Point: "/mnt", FSType: "fuse.glusterfs", Source: "localhost:/vol"}
	loopFacts := Facts{Path: "/dev/loop0", Block: true, Rdev: [2]uint32{7, 0}}
	bindFacts := Facts{Path: "/srv/www", BindRoot: "/srv/www", BindDev: [2]uint32{254, 0}, BindSource: true}
	// In a chroot at /c: the root's mount is not in the table, and the
	// bind mount's root is the source's path within its filesystem.
	chrootBind := &mountinfo.Mount{ID: 17, Major: 254, Minor: 0, Root: "/c/srv/www", Point: "/mnt", FSType: "ext4", Source: "/dev/vda"}
	www := FileID{Dev: [2]uint32{254, 0}, Ino: 1234}
	byID := Facts{Path: "/srv/www", BindByID: true, SourceID: www, DirID: www}
	byIDOther := Facts{Path: "/srv/www", BindByID: true, SourceID: www, DirID: FileID{Dev: [2]uint32{254, 0}, Ino: 2}}
	byIDOtherDev := Facts{Path: "/srv/www", BindByID: true, SourceID: FileID{Dev: [2]uint32{7, 0}, Ino: 1234}, DirID: FileID{Dev: [2]uint32{7, 0}, Ino: 1234}}
	ident := func(want string) func(string) (Identity, bool) {
		return func(dev string) (Identity, bool) {
			if dev == want {
				return Identity{Type: "ext4", UUID: "u-1"}, true
			}
			return Identity{Type: "ext4", UUID: "u-2"}, true
		}
	}
	tests := []struct {
		name  string
		c     *Config
		m     *mountinfo.Mount
		f     Facts
		ident func(string) (Identity, bool)
		want  Verdict
	}{
		{"nothing mounted", blockCfg, nil, loopFacts, nil, NotMounted},
		{"block by device number", blockCfg, loop0, loopFacts, nil, Ours},
		{"another block device", blockCfg, loop1, loopFacts, nil, Foreign},
		{"btrfs by source path", blockCfg, btrfs, loopFacts, nil, Ours},
		{"UUID matches", uuidCfg, loop0, Facts{}, ident("/dev/loop0"), Ours},
		{"UUID differs", uuidCfg, loop1, Facts{}, ident("/dev/loop0"), Foreign},
		{"bind of the right directory", bindCfg, bindOK, bindFacts, nil, Ours},
		{"bind: the whole filesystem instead", bindCfg, bindOther, bindFacts, nil, Foreign},
		{"bind in a chroot: the mount point shows the source", bindCfg, chrootBind, byID, nil, Ours},
		{"bind in a chroot: another directory", bindCfg, chrootBind, byIDOther, nil, Foreign},
		{"bind in a chroot: the source on another device", bindCfg, chrootBind, byIDOtherDev, nil, Foreign},
		{"bind in a chroot, path facts alone", bindCfg, chrootBind, bindFacts, nil, Foreign},
		{"nfs shown as nfs4 under another name", nfsCfg, nfs4, Facts{}, nil, Ours},
		{"glusterfs through FUSE", glusterCfg, gl, Facts{}, nil, Ours},
		{"glusterfs config, ext4 mounted", glusterCfg, loop0, Facts{}, nil, Foreign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Judge(tt.c, tt.m, tt.f, tt.ident); got != tt.want {
				t.Errorf("Judge() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOtherMountsOfDevice(t *testing.T) {
	ms := []mountinfo.Mount{
		{ID: 1, Major: 7, Minor: 0, Point: "/mnt"}, {ID: 2, Major: 7, Minor: 0, Root: "/sub", Point: "/srv/x"},
		{ID: 3, Major: 7, Minor: 1, Point: "/other"},
	}
	got := OtherMountsOfDevice(ms, &ms[0])
	if len(got) != 1 || got[0].ID != 2 {
		t.Errorf("OtherMountsOfDevice() = %v, want the bind mount 2", got)
	}
}
