package harness

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/proc"
)

// LoopFS creates a filesystem image in a temporary file, attaches it to a
// free loop device and returns the device. Cleanup unmounts anything
// still mounted from it and detaches it.
func LoopFS(t testing.TB, fstype, label string) string {
	t.Helper()
	RequireRoot(t, "losetup", "mkfs."+fstype)
	size := "64M"
	if fstype == "xfs" {
		size = "320M" // mkfs.xfs wants 300 MB; the file is sparse
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	proc.Run(t, "truncate", "-s", size, img)
	args := []string{"-q"}
	if fstype == "ext4" {
		args = append(args, "-F")
	} else {
		args = append(args, "-f")
	}
	if label != "" {
		args = append(args, "-L", label)
	}
	proc.Run(t, "mkfs."+fstype, append(args, img)...)
	dev := strings.TrimSpace(proc.Run(t, "losetup", "-f", "--show", img))
	t.Cleanup(func() {
		UnmountAll(t, dev)
		_, _ = proc.Output(context.Background(), "losetup", "-d", dev)
	})
	return dev
}

// UnmountAll lazily unmounts every mount whose source is source.
func UnmountAll(t testing.TB, source string) {
	t.Helper()
	mounts, err := mountinfo.Read()
	if err != nil {
		return
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if mounts[i].Source == source {
			_, _ = proc.Output(context.Background(), "umount", "-l", mounts[i].Point)
		}
	}
}

// Mounted reports whether something is mounted on dir.
func Mounted(dir string) bool {
	mounts, err := mountinfo.Read()
	return err == nil && mountinfo.At(mounts, dir) != nil
}
