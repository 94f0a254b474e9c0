package exportfs

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Config is the resource's configuration.
type Config struct {
	Client       string   // clientspec as given
	Options      string   // export options, without the fsid we add
	Dirs         []string // directories, trailing slashes removed
	FSID         string   // first fsid; "" for none
	UnlockOnStop bool
	WaitLease    bool
	RmtabBackup  string // relative to each directory; "none" disables
}

var fsidOption = regexp.MustCompile(`(^|,)fsid=([^,]*)`)

// ParseConfig reads and checks the parameters; its errors are
// configuration errors (6).
func ParseConfig(r *ocf.Request) (*Config, error) {
	c := &Config{
		Client:       r.Param("clientspec"),
		Options:      r.Param("options"),
		FSID:         r.Param("fsid"),
		UnlockOnStop: r.Bool("unlock_on_stop"),
		WaitLease:    r.Bool("wait_for_leasetime_on_stop"),
		RmtabBackup:  r.Param("rmtab_backup"),
	}
	for _, d := range strings.Fields(r.Param("directory")) {
		c.Dirs = append(c.Dirs, cleanDir(d))
	}
	switch {
	case c.Client == "":
		return nil, ocf.NotConfigured("parameter clientspec is required")
	case len(c.Dirs) == 0:
		return nil, ocf.NotConfigured("parameter directory is required")
	}
	if c.FSID == "" {
		// resource-agents 4.16: without fsid, the one in options counts.
		if m := fsidOption.FindStringSubmatch(c.Options); m != nil {
			c.FSID = m[2]
		}
	}
	if strings.Contains(c.FSID, ",") {
		return nil, ocf.NotConfigured("fsid %s cannot contain a comma", c.FSID)
	}
	if len(c.Dirs) > 1 && c.FSID != "" {
		if _, err := strconv.ParseUint(c.FSID, 10, 32); err != nil {
			return nil, ocf.NotConfigured("use an integer fsid when exporting several directories (fsid %s)", c.FSID)
		}
	}
	return c, nil
}

// cleanDir removes trailing slashes, as upstream does; "/" stays.
func cleanDir(d string) string {
	d = strings.TrimRight(d, "/")
	if d == "" {
		return "/"
	}
	return d
}

// FSIDs returns the fsid of each directory: the same for one, counting up
// from FSID for several; "" each when there is none.
func (c *Config) FSIDs() []string {
	out := make([]string, len(c.Dirs))
	first, err := strconv.ParseUint(c.FSID, 10, 32)
	for i := range out {
		switch {
		case len(c.Dirs) > 1 && err == nil:
			out[i] = strconv.FormatUint(first+uint64(i), 10)
		default:
			out[i] = c.FSID
		}
	}
	return out
}

// ExportOptions is the -o argument of exportfs for a directory with fsid:
// options with their fsid replaced by it, or it added.
func ExportOptions(options, fsid string) string {
	if fsid == "" {
		return options
	}
	if fsidOption.MatchString(options) {
		return fsidOption.ReplaceAllString(options, "${1}fsid="+fsid)
	}
	if options == "" {
		return "fsid=" + fsid
	}
	return options + ",fsid=" + fsid
}

// ClientKey is the clientspec as the export table writes it: IPv6
// addresses and networks lose their brackets.
func (c *Config) ClientKey() string {
	if strings.Count(c.Client, ":") >= 2 {
		return strings.NewReplacer("[", "", "]", "").Replace(c.Client)
	}
	return c.Client
}

// backupFile is the rmtab backup of an exported directory, or "".
func (c *Config) backupFile(dir string) string {
	if c.RmtabBackup == "none" || c.RmtabBackup == "" {
		return ""
	}
	return filepath.Join(dir, c.RmtabBackup)
}
