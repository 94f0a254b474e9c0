package filesystem

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Config is the checked configuration of one resource.
type Config struct {
	Device    DeviceSpec
	Directory string // clean, absolute, without trailing slash
	FSType    string // as given ("" = detect, "none" = bind)
	Options   string

	StatusPrefix string
	RunFsck      string // auto, force, no
	FastStop     bool
	ForceClones  bool
	Kill         bool // force_unmount true/safe: signal the holders
	TermSignals  []syscall.Signal
	KillSignals  []syscall.Signal
	SignalDelay  time.Duration
}

// networkTypes are filesystems whose device is not a local block device.
var networkTypes = map[string]bool{
	"nfs": true, "nfs4": true, "efs": true, "smbfs": true, "cifs": true, "none": true,
	"glusterfs": true, "ceph": true, "tmpfs": true, "overlay": true, "overlayfs": true,
	"rozofs": true, "zfs": true, "cvfs": true, "lustre": true,
}

// clusterSafe are the filesystems that may be cloned without force_clones.
var clusterSafe = map[string]bool{
	"nfs": true, "nfs4": true, "efs": true, "smbfs": true, "cifs": true, "none": true,
	"gfs2": true, "glusterfs": true, "ceph": true, "ocfs2": true, "overlay": true,
	"overlayfs": true, "tmpfs": true, "cvfs": true, "lustre": true,
}

// notClusterSafe refuse to be cloned unless force_clones (or ro).
var notClusterSafe = map[string]bool{
	"ext4": true, "ext4dev": true, "ext3": true, "reiserfs": true, "reiser4": true, "xfs": true, "jfs": true,
}

// noFsck are filesystems run_fsck=auto never checks (journalled, or not
// checkable from here).
var noFsck = map[string]bool{
	"ext4": true, "ext4dev": true, "ext3": true, "reiserfs": true, "reiser4": true, "nss": true,
	"xfs": true, "jfs": true, "vfat": true, "fat": true, "nfs4": true, "nfs": true, "efs": true,
	"cifs": true, "smbfs": true, "ocfs2": true, "gfs2": true, "none": true, "lustre": true,
	"glusterfs": true, "ceph": true, "tmpfs": true, "overlay": true, "overlayfs": true,
	"rozofs": true, "zfs": true, "cvfs": true,
}

// ParseConfig checks the parameters. Its errors are configuration errors
// (6); the actions decide what such an error means for them.
func ParseConfig(r *ocf.Request) (*Config, error) {
	c := &Config{}
	dev := r.Param("device")
	if strings.TrimSpace(dev) == "" {
		return nil, ocf.NotConfigured("parameter device is required")
	}
	c.Device = ParseDevice(dev)
	dir := r.Param("directory")
	if strings.TrimSpace(dir) == "" {
		return nil, ocf.NotConfigured("parameter directory is required")
	}
	if dir != strings.TrimSpace(dir) {
		return nil, ocf.NotConfigured("directory=%q has leading or trailing blanks", dir)
	}
	if !filepath.IsAbs(dir) {
		return nil, ocf.NotConfigured("directory=%q is not an absolute path", dir)
	}
	c.Directory = filepath.Clean(dir)
	c.FSType = strings.TrimSpace(r.Param("fstype"))
	c.Options = strings.TrimSpace(r.Param("options"))
	c.StatusPrefix = r.Param("statusfile_prefix")
	switch v := strings.ToLower(strings.TrimSpace(r.Param("run_fsck"))); v {
	case "auto", "force", "no":
		c.RunFsck = v
	default:
		return nil, ocf.NotConfigured("run_fsck=%q is not auto, force or no", v)
	}
	c.FastStop = r.Bool("fast_stop")
	c.ForceClones = r.Bool("force_clones")

	fu := strings.Fields(strings.ReplaceAll(r.Param("force_unmount"), ",", " "))
	switch {
	case len(fu) == 0:
		c.Kill = true
	case strings.EqualFold(fu[0], "safe") || ocf.IsTrue(fu[0]):
		c.Kill = true
	case ocf.IsBool(fu[0]):
		c.Kill = false
	default:
		return nil, ocf.NotConfigured("force_unmount=%q is not true, safe or false", r.Param("force_unmount"))
	}
	var err error
	if c.TermSignals, err = parseSignals("term_signals", r.Param("term_signals")); err != nil {
		return nil, err
	}
	if c.KillSignals, err = parseSignals("kill_signals", r.Param("kill_signals")); err != nil {
		return nil, err
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(r.Param("signal_delay")), 64)
	if err != nil || d < 0 || d > 3600 {
		return nil, ocf.NotConfigured("signal_delay=%q is not a number of seconds", r.Param("signal_delay"))
	}
	c.SignalDelay = time.Duration(d * float64(time.Second))
	return c, nil
}

var signalNames = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "TERM": syscall.SIGTERM, "ABRT": syscall.SIGABRT,
	"ALRM": syscall.SIGALRM, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP,
}

// parseSignals reads a list such as "TERM", "SIGTERM,SIGINT" or "15 2".
func parseSignals(name, v string) ([]syscall.Signal, error) {
	var out []syscall.Signal
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		u := strings.TrimPrefix(strings.ToUpper(s), "SIG")
		if sig, ok := signalNames[u]; ok {
			out = append(out, sig)
			continue
		}
		if n, err := strconv.Atoi(u); err == nil && n > 0 && n < 65 {
			out = append(out, syscall.Signal(n))
			continue
		}
		return nil, ocf.NotConfigured("%s: %q is not a signal", name, s)
	}
	if len(out) == 0 {
		return nil, ocf.NotConfigured("%s must name at least one signal", name)
	}
	return out, nil
}

// IsBind reports a bind mount: fstype none, or bind/rbind in the options.
func (c *Config) IsBind() bool {
	return c.FSType == "none" || HasOption(c.Options, "bind") || HasOption(c.Options, "rbind")
}

// IsBlock reports whether the device is meant to be a local block device
// (upstream's rule: not a network, virtual or bind type, not a loop mount,
// not a directory).
func (c *Config) IsBlock() bool {
	if networkTypes[c.FSType] || strings.HasPrefix(c.FSType, "fuse") || c.IsBind() || HasOption(c.Options, "loop") {
		return false
	}
	if c.Device.UUID != "" || c.Device.Label != "" {
		return true
	}
	return !isDir(c.Device.Path)
}

// CloneSafety decides whether this filesystem may run as a clone, as the
// stock agent's start does: refuse is why it may not (""), warn what a
// clone allowed anyway logs. Cluster-aware and network filesystems
// (clusterSafe) may; the local ones of notClusterSafe only with
// force_clones, because even a read-only mount of them replays or writes
// their journal; any other type (empty included) read-only or with
// force_clones. Upstream ignores force_clones for the types it does not
// list; here it is the user's word for every type.
func (c *Config) CloneSafety() (refuse, warn string) {
	what := c.FSType + " on " + c.Device.String()
	if c.FSType == "" {
		what = c.Device.String() + " (no fstype)"
	}
	switch {
	case clusterSafe[c.FSType]:
		return "", ""
	case c.ForceClones:
		return "", what + " is not cluster-aware; running it as a clone because force_clones is set"
	case !notClusterSafe[c.FSType] && HasOption(c.Options, "ro"):
		return "", what + " is not cluster-aware; running it as a clone because it is mounted read-only (its metadata must be read-only too)"
	}
	return "DANGER! " + what + " is not cluster-aware and must not run as a clone (set force_clones to override)", ""
}

// NeedsFsck applies run_fsck.
func (c *Config) NeedsFsck() bool {
	switch c.RunFsck {
	case "force":
		return true
	case "no":
		return false
	}
	return c.IsBlock() && !noFsck[c.FSType]
}

// KernelType maps an fstype parameter to what /proc/self/mountinfo shows
// for it ("glusterfs" is served through FUSE as "fuse.glusterfs").
func KernelType(fstype string) string {
	switch fstype {
	case "glusterfs":
		return "fuse.glusterfs"
	}
	return fstype
}

// StatusFile is the level-20 status file of this resource on this node.
func (c *Config) StatusFile(instance string, clone int, node string) string {
	name := instance
	if clone >= 0 && !strings.Contains(instance, ":") {
		name += "_" + strconv.Itoa(clone)
	}
	name = strings.ReplaceAll(name, ":", "_") + "_" + node
	return filepath.Join(c.Directory, c.StatusPrefix+name)
}
