// Package mountinfo reads the kernel's mount table, /proc/PID/mountinfo:
// a parser that is pure over bytes (tested with tables captured from real
// systems under testdata/) and the lookups agents and tests need (the
// mount on a directory, the mounts below it, the mount a path lies on).
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	ID, Parent   int
	Major, Minor uint32
	Root         string // path of the mount's root within its filesystem
	Point        string // mount point
	Options      string // per-mount options (rw,noatime,...)
	FSType       string
	Source       string
	SuperOptions string
}

// Parse parses the contents of /proc/PID/mountinfo. Lines that do
// not have the documented shape are skipped.
func Parse(b []byte) []Mount {
	var out []Mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m, ok := parseMountLine(sc.Text()); ok {
			out = append(out, m)
		}
	}
	return out
}

// parseMountLine reads "36 35 98:0 /root /point rw,noatime shared:1 - ext4 /dev/sda1 rw".
func parseMountLine(line string) (Mount, bool) {
	// Single spaces: a field may be empty (a mount with no source shows
	// "- tmpfs  rw"), which strings.Fields would swallow.
	f := strings.Split(line, " ")
	if len(f) < 10 {
		return Mount{}, false
	}
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+3 > len(f) {
		return Mount{}, false
	}
	var m Mount
	var err error
	if m.ID, err = strconv.Atoi(f[0]); err != nil {
		return Mount{}, false
	}
	if m.Parent, err = strconv.Atoi(f[1]); err != nil {
		return Mount{}, false
	}
	maj, min, ok := strings.Cut(f[2], ":")
	if !ok {
		return Mount{}, false
	}
	a, err1 := strconv.ParseUint(maj, 10, 32)
	b, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return Mount{}, false
	}
	m.Major, m.Minor = uint32(a), uint32(b)
	m.Root = Unescape(f[3])
	m.Point = Unescape(f[4])
	m.Options = f[5]
	m.FSType = Unescape(f[sep+1])
	m.Source = Unescape(f[sep+2])
	if sep+3 < len(f) {
		m.SuperOptions = f[sep+3]
	}
	return m, true
}

// Unescape undoes the kernel's octal escapes of space, tab, newline and
// backslash (\040, \011, \012, \134).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// Read reads this process's mount table.
func Read() ([]Mount, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return Parse(b), nil
}

// At returns the topmost mount at point (the last one listed: later
// mounts cover earlier ones), or nil.
func At(mounts []Mount, point string) *Mount {
	var top *Mount
	for i := range mounts {
		if mounts[i].Point == point {
			top = &mounts[i]
		}
	}
	return top
}

// Under returns the mounts strictly below point, deepest first (the order
// to unmount them in).
func Under(mounts []Mount, point string) []Mount {
	prefix := strings.TrimSuffix(point, "/") + "/"
	var out []Mount
	for _, m := range mounts {
		if strings.HasPrefix(m.Point, prefix) {
			out = append(out, m)
		}
	}
	// Deeper and later mounts first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	sortByDepth(out)
	return out
}

func sortByDepth(ms []Mount) {
	depth := func(p string) int { return strings.Count(p, "/") }
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && depth(ms[j].Point) > depth(ms[j-1].Point); j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// Containing returns the mount whose mount point is the longest prefix of
// path: the mount a path lives on.
func Containing(mounts []Mount, path string) *Mount {
	var best *Mount
	for i := range mounts {
		p := mounts[i].Point
		if path == p || p == "/" || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			if best == nil || len(p) >= len(best.Point) {
				best = &mounts[i]
			}
		}
	}
	return best
}
