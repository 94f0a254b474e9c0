package filesystem

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

func request(t *testing.T, params map[string]string) *ocf.Request {
	t.Helper()
	return ocf.NewRequest(Agent(), "fs", "validate-all", params, nil)
}

func TestParseConfig(t *testing.T) {
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"device": "/dev/loop0", "directory": "/mnt/data/", "fstype": "ext4"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	c, err := ParseConfig(request(t, base(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Directory != "/mnt/data" || !c.Kill || c.RunFsck != "auto" || c.SignalDelay != time.Second ||
		len(c.TermSignals) != 1 || c.TermSignals[0] != syscall.SIGTERM || c.KillSignals[0] != syscall.SIGKILL ||
		c.StatusPrefix != ".Filesystem_status/" || c.FastStop {
		t.Errorf("defaults = %+v", c)
	}
	c, _ = ParseConfig(request(t, base(map[string]string{"force_unmount": "safe", "term_signals": "SIGINT,TERM", "signal_delay": "0.5"})))
	if !c.Kill || len(c.TermSignals) != 2 || c.TermSignals[0] != syscall.SIGINT || c.SignalDelay != 500*time.Millisecond {
		t.Errorf("safe/signals = %+v", c)
	}
	c, _ = ParseConfig(request(t, base(map[string]string{"force_unmount": "false"})))
	if c.Kill {
		t.Error("force_unmount=false kills")
	}
	for name, params := range map[string]map[string]string{
		"no device":         {"directory": "/mnt"},
		"no directory":      {"device": "/dev/sdb"},
		"relative dir":      base(map[string]string{"directory": "mnt"}),
		"blank dir":         base(map[string]string{"directory": " /mnt"}),
		"bad run_fsck":      base(map[string]string{"run_fsck": "sometimes"}),
		"bad force_unmount": base(map[string]string{"force_unmount": "brutal"}),
		"bad signal":        base(map[string]string{"kill_signals": "SIGFOO"}),
		"bad delay":         base(map[string]string{"signal_delay": "soon"}),
	} {
		if _, err := ParseConfig(request(t, params)); ocf.CodeOf(err) != ocf.ErrConfigured {
			t.Errorf("%s: ParseConfig() = %v, want OCF_ERR_CONFIGURED", name, err)
		}
	}
}

func TestConfigRules(t *testing.T) {
	tests := []struct {
		c                 Config
		bind, block, fsck bool
		clone             bool // refused as a clone
	}{
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "ext4"}, false, true, false, true},
		// Read-only does not make ext4 safe to clone: mounting replays
		// its journal.
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "ext4", Options: "ro"}, false, true, false, true},
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "ext4", ForceClones: true}, false, true, false, false},
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "ext2"}, false, true, true, true},
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "ext2", Options: "ro"}, false, true, true, false},
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "btrfs", ForceClones: true}, false, true, true, false},
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}}, false, true, true, true},
		{Config{Device: DeviceSpec{Path: "/dev/vdb"}, FSType: "ocfs2"}, false, true, false, false},
		{Config{Device: DeviceSpec{Path: "/dev/vdb"}, FSType: "gfs2"}, false, true, false, false},
		{Config{Device: DeviceSpec{Path: "/dev/sdb"}, FSType: "ext4", RunFsck: "force"}, false, true, true, true},
		{Config{Device: DeviceSpec{Path: "/"}, FSType: "none"}, true, false, false, false},
		{Config{Device: DeviceSpec{Path: "/srv"}, FSType: "ext4", Options: "bind"}, true, false, false, true},
		{Config{Device: DeviceSpec{Path: "h:/x"}, FSType: "nfs"}, false, false, false, false},
		{Config{Device: DeviceSpec{Path: "h:/v"}, FSType: "glusterfs"}, false, false, false, false},
		{Config{Device: DeviceSpec{Path: "/img"}, FSType: "ext4", Options: "loop"}, false, false, false, true},
		{Config{Device: DeviceSpec{UUID: "x"}, FSType: "xfs"}, false, true, false, true},
	}
	for _, tt := range tests {
		if tt.c.RunFsck == "" {
			tt.c.RunFsck = "auto"
		}
		if got := tt.c.IsBind(); got != tt.bind {
			t.Errorf("%+v IsBind() = %v", tt.c, got)
		}
		if got := tt.c.IsBlock(); got != tt.block {
			t.Errorf("%+v IsBlock() = %v", tt.c, got)
		}
		if got := tt.c.NeedsFsck(); got != tt.fsck {
			t.Errorf("%+v NeedsFsck() = %v", tt.c, got)
		}
		if refuse, _ := tt.c.CloneSafety(); (refuse != "") != tt.clone {
			t.Errorf("%+v CloneSafety() refuses %q", tt.c, refuse)
		}
	}
}

func TestSplitOptions(t *testing.T) {
	o := SplitOptions("defaults,noatime,ro,_netdev,x-systemd.automount,data=ordered,errors=remount-ro,nodev")
	wantFlags := uintptr(0x400 | 0x1 | 0x4) // noatime, ro, nodev
	if o.Flags != wantFlags || o.Data != "data=ordered,errors=remount-ro" {
		t.Errorf("SplitOptions() = %#x %q", o.Flags, o.Data)
	}
	if o := SplitOptions("ro,rw"); o.Flags != 0 {
		t.Errorf("ro,rw flags = %#x, want 0 (the last wins)", o.Flags)
	}
}

func TestStatusFile(t *testing.T) {
	c := &Config{Directory: "/mnt/d", StatusPrefix: ".Filesystem_status/"}
	if got := c.StatusFile("fs", -1, "node1"); got != "/mnt/d/.Filesystem_status/fs_node1" {
		t.Errorf("StatusFile() = %s", got)
	}
	if got := c.StatusFile("fs:2", 2, "node1"); !strings.HasSuffix(got, "/fs_2_node1") {
		t.Errorf("StatusFile(clone) = %s", got)
	}
}
