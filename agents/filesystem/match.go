package filesystem

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// Facts is what this host says about the configured device, gathered
// without touching the mounted filesystem.
type Facts struct {
	Path       string // the device path with symlinks resolved ("" if none)
	Block      bool   // Path is a block device
	Rdev       [2]uint32
	BindRoot   string // bind mounts: the source's path within its filesystem
	BindDev    [2]uint32
	BindSource bool // the bind source was found
	// Bind mounts whose source lies on a mount this process cannot see
	// (in a chroot, mounts outside the root are left out of mountinfo,
	// and with them the source's path within its filesystem): the
	// identity of the source directory and of what the mount point
	// shows. Set only then.
	BindByID bool
	SourceID FileID
	DirID    FileID
}

// FileID is what tells one file from another: its device and inode.
type FileID struct {
	Dev [2]uint32
	Ino uint64
}

// statID returns path's identity. It asks for no fresh attributes
// (AT_STATX_DONT_SYNC), so a network filesystem answers from its cache
// where it can, and triggers no automount.
func statID(path string) (FileID, bool) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_STATX_DONT_SYNC|unix.AT_NO_AUTOMOUNT, unix.STATX_INO, &st); err != nil {
		return FileID{}, false
	}
	return FileID{Dev: [2]uint32{st.Dev_major, st.Dev_minor}, Ino: st.Ino}, true
}

// gatherFacts stats the device (a block device, or a bind source) and, for
// a bind mount, finds which filesystem and path the source is.
func gatherFacts(c *Config, mounts []mountinfo.Mount) Facts {
	var f Facts
	if c.Device.Path == "" {
		return f
	}
	if p, err := filepath.EvalSymlinks(c.Device.Path); err == nil {
		f.Path = p
	}
	if c.IsBind() && f.Path != "" {
		src, srcOK := statID(f.Path)
		m := mountinfo.Containing(mounts, f.Path)
		if m != nil && (!srcOK || src.Dev == [2]uint32{m.Major, m.Minor}) {
			rel := strings.TrimPrefix(f.Path, strings.TrimSuffix(m.Point, "/"))
			f.BindRoot = filepath.Join(m.Root, rel)
			f.BindDev = [2]uint32{m.Major, m.Minor}
			f.BindSource = true
			return f
		}
		// The source's own mount is not in the table (a chroot), or is
		// not the filesystem the source is on: what the mount point
		// shows must then be the source directory itself.
		if srcOK {
			f.BindByID, f.SourceID = true, src
			f.DirID, _ = statID(c.Directory)
		}
		return f
	}
	var st unix.Stat_t
	if f.Path != "" && unix.Stat(f.Path, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		f.Block = true
		f.Rdev = [2]uint32{unix.Major(st.Rdev), unix.Minor(st.Rdev)}
	}
	return f
}

// Verdict is what is on the mount point.
type Verdict int

// Verdicts.
const (
	NotMounted Verdict = iota
	Ours               // the configured device
	Foreign            // something else
)

// Judge decides whether mount m (the topmost mount on the directory) is
// the configured device. identity reads the filesystem identity of a
// mounted block device, for UUID= and LABEL= devices.
func Judge(c *Config, m *mountinfo.Mount, f Facts, identity func(dev string) (Identity, bool)) Verdict {
	if m == nil {
		return NotMounted
	}
	dev := [2]uint32{m.Major, m.Minor}
	switch {
	case c.IsBind():
		if f.BindSource && dev == f.BindDev && filepath.Clean(m.Root) == filepath.Clean(f.BindRoot) {
			return Ours
		}
		if f.BindByID && dev == f.SourceID.Dev && f.DirID == f.SourceID {
			return Ours
		}
		return Foreign
	case c.Device.UUID != "" || c.Device.Label != "":
		if id, ok := identity(m.Source); ok && c.Device.Matches(id) {
			return Ours
		}
		return Foreign
	case f.Block:
		// btrfs reports an anonymous device number; its source is the path.
		if dev == f.Rdev || sameDevicePath(m.Source, f.Path) {
			return Ours
		}
		return Foreign
	}
	// Network, virtual and FUSE filesystems: the source string, or (a server
	// may show itself under another name) the same filesystem type.
	if trimSlash(m.Source) == trimSlash(c.Device.Path) {
		return Ours
	}
	if c.FSType != "" && (m.FSType == KernelType(c.FSType) || sameNFS(m.FSType, c.FSType)) {
		return Ours
	}
	return Foreign
}

func sameNFS(kernel, param string) bool {
	return strings.HasPrefix(kernel, "nfs") && strings.HasPrefix(param, "nfs")
}

func trimSlash(s string) string {
	if len(s) > 1 {
		return strings.TrimRight(s, "/")
	}
	return s
}

func sameDevicePath(source, resolved string) bool {
	if resolved == "" || !strings.HasPrefix(source, "/") {
		return false
	}
	if source == resolved {
		return true
	}
	p, err := filepath.EvalSymlinks(source)
	return err == nil && p == resolved
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// OtherMountsOfDevice returns the mounts of the same filesystem as m
// elsewhere (bind mounts of its directories, second mounts), which keep a
// block device busy after the mount point itself is gone.
func OtherMountsOfDevice(mounts []mountinfo.Mount, m *mountinfo.Mount) []mountinfo.Mount {
	var out []mountinfo.Mount
	for _, o := range mounts {
		if o.ID != m.ID && o.Major == m.Major && o.Minor == m.Minor && o.Point != m.Point {
			out = append(out, o)
		}
	}
	return out
}
