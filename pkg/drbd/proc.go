package drbd

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Version is a DRBD kernel module version.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than w.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// IsZero reports an unknown version.
func (v Version) IsZero() bool { return v == Version{} }

// ParseVersion reads "8.4.11", "9.2.4" or "9.2.4-rc.1" (what follows the
// third number is ignored). Missing parts count as 0.
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, fmt.Errorf("empty version")
	}
	parts := strings.SplitN(s, ".", 3)
	var n [3]int
	for i, p := range parts {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 || (end < len(p) && i < len(parts)-1) {
			return Version{}, fmt.Errorf("%q is not a version x.y.z", s)
		}
		v, err := strconv.Atoi(p[:end])
		if err != nil {
			return Version{}, fmt.Errorf("%q is not a version x.y.z", s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// ParseProcDRBD reads the module version from /proc/drbd, whose first
// line is "version: 8.4.11 (api:1/proto:86-101)" for 8.4 and 9 alike.
func ParseProcDRBD(data []byte) (Version, error) {
	for _, line := range bytes.Split(data, []byte{'\n'}) {
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == "version:" {
			return ParseVersion(f[1])
		}
	}
	return Version{}, fmt.Errorf("/proc/drbd has no version line")
}

// AllowsTwoPrimaries reports whether the output of "drbdadm dump
// <resource>" enables allow-two-primaries ("allow-two-primaries;" or
// "allow-two-primaries yes;"). Comments are skipped; the last setting
// wins.
func AllowsTwoPrimaries(dump []byte) bool {
	var b strings.Builder
	for _, line := range strings.Split(string(dump), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte(' ')
	}
	spaced := strings.NewReplacer(";", " ; ", "{", " { ", "}", " } ").Replace(b.String())
	tok := strings.Fields(spaced)
	allowed := false
	for i, t := range tok {
		if t != "allow-two-primaries" || i+1 >= len(tok) {
			continue
		}
		switch v := tok[i+1]; v {
		case ";":
			allowed = true
		default:
			allowed = v == "yes" || v == "on" || v == "true"
		}
	}
	return allowed
}
