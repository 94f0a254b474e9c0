package drbdlab

import (
	"fmt"
	"strings"
)

// Resource is the standard test resource: protocol C, ping-int 2 and
// connect-int 2 (a dead peer is noticed in about 3 s, a healed link
// reconnects within 2 s), c-plan-ahead 0 with a fixed resync rate,
// volume 0 on /dev/drbd0 backed by /dev/vda with internal metadata,
// port 7789 on both guests.
type Resource struct {
	Name         string // "r0" when empty
	TwoPrimaries bool   // allow-two-primaries yes
	ResyncRate   string // "100M" when empty (64 MiB in about 4 s)
	Net          string // extra statements for the net section, e.g. "after-sb-0pri discard-zero-changes;"
	Disk         string // extra statements for the disk section, e.g. "fencing resource-only;"
	Handlers     string // statements for a handlers section
}

// Text renders the resource file.
func (r Resource) Text() string {
	if r.Name == "" {
		r.Name = "r0"
	}
	if r.ResyncRate == "" {
		r.ResyncRate = "100M"
	}
	netx := r.Net
	if r.TwoPrimaries {
		netx = strings.TrimSpace("allow-two-primaries yes; " + netx)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "resource %s {\n", r.Name)
	fmt.Fprintf(&b, "\tnet { protocol C; ping-int 2; connect-int 2; %s}\n", spaceAfter(netx))
	fmt.Fprintf(&b, "\tdisk { c-plan-ahead 0; resync-rate %s; %s}\n", r.ResyncRate, spaceAfter(r.Disk))
	if r.Handlers != "" {
		fmt.Fprintf(&b, "\thandlers { %s }\n", r.Handlers)
	}
	b.WriteString("\tvolume 0 { device /dev/drbd0; disk /dev/vda; meta-disk internal; }\n")
	b.WriteString("\ton guest-a { address 192.0.2.11:7789; }\n")
	b.WriteString("\ton guest-b { address 192.0.2.12:7789; }\n")
	b.WriteString("}\n")
	return b.String()
}

func spaceAfter(s string) string {
	if s = strings.TrimSpace(s); s != "" {
		return s + " "
	}
	return ""
}
