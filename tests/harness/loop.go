package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	Run(t, "truncate", "-s", size, img)
	args := []string{"-q"}
	if fstype == "ext4" {
		args = append(args, "-F")
	} else {
		args = append(args, "-f")
	}
	if label != "" {
		args = append(args, "-L", label)
	}
	Run(t, "mkfs."+fstype, append(args, img)...)
	dev := strings.TrimSpace(Run(t, "losetup", "-f", "--show", img))
	t.Cleanup(func() {
		UnmountAll(t, dev)
		_, _ = Output("losetup", "-d", dev)
	})
	return dev
}

// UnmountAll unmounts every mount whose source is dev or whose mount point
// is below a temporary directory of this test run and shows dev.
func UnmountAll(t testing.TB, source string) {
	t.Helper()
	for i := 0; i < 5; i++ {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return
		}
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			for j := 6; j+2 < len(f); j++ {
				if f[j] == "-" && f[j+2] == source {
					found = true
					_, _ = Output("umount", "-l", strings.ReplaceAll(f[4], `\040`, " "))
				}
			}
		}
		if !found {
			return
		}
	}
}

// Mounted reports whether something is mounted on dir.
func Mounted(dir string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.ReplaceAll(f[4], `\040`, " ") == dir {
			return true
		}
	}
	return false
}
