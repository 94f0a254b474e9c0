package nfsserver

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Config is the resource's configuration.
type Config struct {
	InitScript       string // "" when none is configured
	V4Only           bool
	NoNotify         bool
	NotifyForeground bool
	RetryMinutes     int // -1: sm-notify's default
	Scope            string
	IPs              []string
	InfoDir          string
	PipefsDir        string
}

// ParseConfig reads and checks the parameters; its errors are
// configuration errors (6), or 5 for an init script that is not there.
func ParseConfig(r *ocf.Request) (*Config, error) {
	c := &Config{
		V4Only:           r.Bool("nfsv4_only"),
		NoNotify:         r.Bool("nfs_no_notify"),
		NotifyForeground: r.Bool("nfs_notify_foreground"),
		Scope:            r.Param("nfs_server_scope"),
		InfoDir:          strings.TrimRight(r.Param("nfs_shared_infodir"), "/"),
		PipefsDir:        r.Param("rpcpipefs_dir"),
		RetryMinutes:     -1,
	}
	if s := r.Param("nfs_init_script"); s != "" && s != "auto detected" {
		c.InitScript = s
	}
	if v := r.Param("nfs_smnotify_retry_time"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, ocf.NotConfigured("nfs_smnotify_retry_time=%q is not a number of minutes", v)
		}
		c.RetryMinutes = n
	}
	for _, ip := range strings.Split(r.Param("nfs_ip"), ",") {
		if ip = strings.TrimSpace(ip); ip != "" {
			c.IPs = append(c.IPs, ip)
		}
	}
	if c.InfoDir != "" && !filepath.IsAbs(c.InfoDir) {
		return nil, ocf.NotConfigured("nfs_shared_infodir=%q is not an absolute path", c.InfoDir)
	}
	if c.PipefsDir == "" || !filepath.IsAbs(c.PipefsDir) {
		return nil, ocf.NotConfigured("rpcpipefs_dir=%q is not an absolute path", c.PipefsDir)
	}
	if c.InfoDir != "" && r.Meta.IsClone() {
		// One server's state cannot be mounted on several nodes at once.
		return nil, ocf.NotConfigured("nfs_shared_infodir is set: nfsserver cannot run as a clone")
	}
	return c, nil
}

// NotifyArgs are sm-notify's arguments for one address ("" for none).
func (c *Config) NotifyArgs(ip string) []string {
	args := []string{"-f"}
	if c.NotifyForeground {
		args = append(args, "-d")
	}
	if c.RetryMinutes >= 0 {
		args = append(args, "-m", strconv.Itoa(c.RetryMinutes))
	}
	if ip != "" {
		args = append(args, "-v", ip)
	}
	return args
}
