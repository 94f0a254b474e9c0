package filesystem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// mountFlags are the options the mount system call takes as flags.
var mountFlags = map[string]struct {
	set  bool
	flag uintptr
}{
	"ro": {true, unix.MS_RDONLY}, "rw": {false, unix.MS_RDONLY},
	"nosuid": {true, unix.MS_NOSUID}, "suid": {false, unix.MS_NOSUID},
	"nodev": {true, unix.MS_NODEV}, "dev": {false, unix.MS_NODEV},
	"noexec": {true, unix.MS_NOEXEC}, "exec": {false, unix.MS_NOEXEC},
	"sync": {true, unix.MS_SYNCHRONOUS}, "async": {false, unix.MS_SYNCHRONOUS},
	"dirsync": {true, unix.MS_DIRSYNC}, "mand": {true, unix.MS_MANDLOCK}, "nomand": {false, unix.MS_MANDLOCK},
	"noatime": {true, unix.MS_NOATIME}, "atime": {false, unix.MS_NOATIME},
	"nodiratime": {true, unix.MS_NODIRATIME}, "diratime": {false, unix.MS_NODIRATIME},
	"relatime": {true, unix.MS_RELATIME}, "norelatime": {false, unix.MS_RELATIME},
	"strictatime": {true, unix.MS_STRICTATIME}, "lazytime": {true, unix.MS_LAZYTIME},
	"nolazytime": {false, unix.MS_LAZYTIME}, "silent": {true, unix.MS_SILENT}, "loud": {false, unix.MS_SILENT},
	"bind": {true, unix.MS_BIND}, "rbind": {true, unix.MS_BIND | unix.MS_REC},
	"remount": {true, unix.MS_REMOUNT},
}

// Options are mount options split the way the mount system call wants
// them: flags, and the filesystem's own data string.
type Options struct {
	Flags uintptr
	Data  string
}

// SplitOptions separates flags from filesystem data and drops the options
// only mount(8) and fstab understand (defaults, auto, _netdev, x-*, ...).
func SplitOptions(opts string) Options {
	var o Options
	var data []string
	for _, opt := range strings.Split(opts, ",") {
		opt = strings.TrimSpace(opt)
		switch {
		case opt == "" || opt == "defaults" || opt == "auto" || opt == "noauto" || opt == "user" ||
			opt == "nouser" || opt == "users" || opt == "owner" || opt == "group" || opt == "_netdev" ||
			opt == "nofail" || opt == "loop" || strings.HasPrefix(opt, "x-") || strings.HasPrefix(opt, "comment="):
			continue
		}
		if f, ok := mountFlags[opt]; ok {
			if f.set {
				o.Flags |= f.flag
			} else {
				o.Flags &^= f.flag
			}
			continue
		}
		data = append(data, opt)
	}
	o.Data = strings.Join(data, ",")
	return o
}

// needsHelper reports whether the mount has to go through mount(8): types
// served by a userspace helper (mount.nfs, mount.glusterfs, mount.cifs,
// mount.ocfs2, FUSE: any type with a mount.<type> program), loop mounts,
// options only mount(8) understands, and an unknown type on something that
// is not a block device.
func needsHelper(c *Config, probed string) bool {
	switch c.FSType {
	case "nfs", "nfs4", "cifs", "smbfs", "smb3", "glusterfs", "ceph", "efs", "lustre", "rozofs", "cvfs", "zfs", "ocfs2", "gfs2":
		return true
	}
	if strings.HasPrefix(c.FSType, "fuse") || HasOption(c.Options, "loop") || mount8Options(c.Options) {
		return true
	}
	if c.FSType != "" && c.FSType != "none" {
		if _, err := ocf.LookPath("mount." + c.FSType); err == nil {
			return true
		}
	}
	return c.FSType == "" && probed == "" && !c.IsBind()
}

// mount8Options reports options that mount(8) interprets itself rather
// than pass to the kernel as they are.
func mount8Options(opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		lo := strings.ToLower(o)
		switch {
		case strings.HasPrefix(lo, "x-"), strings.HasPrefix(o, "offset="), strings.HasPrefix(o, "sizelimit="),
			o == "nosymfollow", o == "iversion", o == "noiversion", o == "nostrictatime",
			o == "shared", o == "private", o == "slave", o == "unbindable",
			o == "rshared", o == "rprivate", o == "rslave", o == "runbindable":
			return true
		}
	}
	return false
}

// doMount mounts device on the directory. It replaces
// "mount [-t fstype] [-o options] device directory".
func doMount(ctx context.Context, c *Config, device, probed string) error {
	if needsHelper(c, probed) {
		args := []string{}
		if c.FSType != "" {
			args = append(args, "-t", c.FSType)
		}
		if c.Options != "" {
			args = append(args, "-o", c.Options)
		}
		args = append(args, device, c.Directory)
		out, err := ocf.Helper{Path: "mount", Args: args}.Run(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("mount %s did not finish in time", strings.Join(args, " "))
			}
			return fmt.Errorf("mount %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out.Stdout)))
		}
		return nil
	}
	o := SplitOptions(c.Options)
	switch {
	case c.IsBind():
		bind := unix.MS_BIND | (o.Flags & unix.MS_REC)
		if err := unix.Mount(device, c.Directory, "", bind, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", device, c.Directory, err)
		}
		// Other flags (ro, nosuid...) take a remount of the bind mount.
		if rest := o.Flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := unix.Mount("", c.Directory, "", unix.MS_REMOUNT|unix.MS_BIND|rest, ""); err != nil {
				_ = unix.Unmount(c.Directory, 0)
				return fmt.Errorf("remount bind %s with %s: %w", c.Directory, c.Options, err)
			}
		}
		return nil
	}
	fstype := c.FSType
	if fstype == "" {
		fstype = probed
	}
	if err := unix.Mount(device, c.Directory, fstype, o.Flags, o.Data); err != nil {
		return fmt.Errorf("mount -t %s %s %s: %w", fstype, device, c.Directory, err)
	}
	return nil
}

// kernelSupports reports whether /proc/filesystems lists the type (FUSE
// types need "fuse").
func kernelSupports(fstype string) bool {
	if fstype == "" || fstype == "none" {
		return true
	}
	want := fstype
	switch {
	case strings.HasPrefix(fstype, "fuse"), fstype == "glusterfs", fstype == "rozofs":
		want = "fuse"
	case fstype == "efs":
		want = "nfs4"
	}
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return true // cannot tell; let the mount say
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == want {
			return true
		}
	}
	return false
}

// unmountFlags adds a forced unmount for network filesystems, as
// upstream's "umount -f" does; never a lazy one.
func unmountFlags(fstype string) int {
	switch fstype {
	case "nfs", "nfs4", "efs", "cifs", "smbfs":
		return unix.MNT_FORCE
	}
	return 0
}

// tryUnmount unmounts point once. Already gone counts as done.
func tryUnmount(point string, flags int) error {
	err := unix.Unmount(point, flags)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// HasOption reports whether a comma-separated option list contains opt.
func HasOption(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if o == opt {
			return true
		}
	}
	return false
}
