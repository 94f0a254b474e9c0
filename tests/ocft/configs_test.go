//go:build system

package ocft_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	h "github.com/paceline-ha/paceline/tests/harness"
)

// ocftConfigs is where resource-agents installs the ocft configs.
const ocftConfigs = "/usr/share/resource-agents/ocft/configs"

// side is one implementation of the agents: the OCF root its config
// points ocft at.
type side struct {
	name string // "stock" or "paceline", in the table
	root string // the config's AgentRoot
}

var (
	stock    = side{"stock", "/usr/lib/ocf/resource.d/heartbeat"}
	paceline = side{"paceline", pacelineRoot()}
	sides    = []side{stock, paceline}
)

// pacelineRoot is where make install puts paceline's agents, or
// $PACELINE_OCFT_ROOT: another dir of agent links, to try a build
// without installing it. It must be outside /tmp, which the runs cover
// with a tmpfs of their own.
func pacelineRoot() string {
	if d := os.Getenv("PACELINE_OCFT_ROOT"); d != "" {
		return d
	}
	return "/usr/lib/ocf/resource.d/paceline"
}

// envKind is the environment a config's cases need.
type envKind int

const (
	netnsEnv   envKind = iota // eth0 and eth1 in a network namespace of ours
	loopEnv                   // netnsEnv, plus a loop device of ours
	libvirtEnv                // a private libvirtd with a tiny TCG guest
	// nfsEnv is a network namespace of ours for exportfs, which needs no
	// NFS server to write its table (/var/lib/nfs, under the runs'
	// overlay of /var/lib); its configs hold no address.
	nfsEnv
	// guestEnv is a guest of tests/drbdlab for each side, prepared so
	// that the stock agent passes every case (nfsserver_test.go): both
	// sides must pass them all and return the same codes (strict).
	guestEnv
)

// config is one ocft config the tier runs.
type config struct {
	name  string // the file under ocftConfigs
	agent string // the agent it tests
	env   envKind
}

// strict reports whether the stock agent must pass every case of c too,
// and both sides return the same codes at every step ocft checks.
func (c config) strict() bool { return c.env == guestEnv }

// configs are the configs TestOCFT runs; nfsserver's (nfsConfig) runs
// in guests, in TestOCFTNFSServer.
var configs = []config{
	{"IPaddr2", "IPaddr2", netnsEnv},
	{"IPaddr2v4", "IPaddr2", netnsEnv},
	{"IPaddr2v6", "IPaddr2", netnsEnv},
	{"Filesystem", "Filesystem", loopEnv},
	{"VirtualDomain", "VirtualDomain", libvirtEnv},
	{"exportfs", "exportfs", nfsEnv},
	{"exportfs-multidir", "exportfs", nfsEnv},
}

// addressRewrites move every address the configs ship with into the
// documentation and unique-local ranges, so nothing the cases add or
// announce can be anybody's real address. The configs use
// 192.168.144.0/24 as "the" subnet, 192.168.120.1 as an address outside
// it, 192.168.255.255 as a broadcast that is not the subnet's, and
// 2001:db8::/32 for IPv6; the rewritten ones keep those relations.
var addressRewrites = []struct{ from, to string }{
	{"192.168.144.", "192.0.2."},
	{"192.168.120.", "198.51.100."},
	{"192.168.255.255", "198.51.100.255"},
	{"2001:db8:", "fd00:db8:"},
}

// allowedPrefixes are where the rewritten configs' addresses may be.
var allowedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("fd00::/8"),
}

// scopedPrefixes are addresses that never leave the interface or the
// link they are on, kept as the configs have them because the cases are
// about them: IPaddr2's "Attachment to loopback interface" (127.0.0.3)
// and IPaddr2v6's link-local cases (fe80::2, which need a nic). Inside
// the tier's namespace the loopback is its own and the link is a veth
// to the tier's peer namespace.
var scopedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("fe80::/10"),
}

// rewriteOpts are the per-run parts of a rewrite.
type rewriteOpts struct {
	side      side
	loopDev   string // Filesystem: the loop device of this run
	domainXML string // VirtualDomain: the domain XML, as ocft sees the path
}

var (
	agentRootLine = regexp.MustCompile(`(?m)^(\s*AgentRoot\s+)\S+\s*$`)
	loopVarLine   = regexp.MustCompile("(?m)^(\\s*OCFT_loop=).*$")
	domainVarLine = regexp.MustCompile(`(?m)^(\s*OCFT_config=).*$`)
	// installLine makes ocft run apt-get install at every run: the tier
	// needs the packages installed before (tests/install-deps.sh), and
	// runs at once would fight over apt's locks.
	installLine = regexp.MustCompile(`(?m)^\s*InstallPackage\s.*\n`)
)

// rewrite returns the config text for one run: its AgentRoot, its
// addresses, and the run's loop device or domain. Every rewrite that
// should apply must apply, so a changed upstream config is noticed
// rather than run half-rewritten.
func rewrite(c config, text string, o rewriteOpts) (string, error) {
	if n := len(agentRootLine.FindAllString(text, -1)); n != 1 {
		return "", fmt.Errorf("%s: %d AgentRoot lines, want 1", c.name, n)
	}
	text = agentRootLine.ReplaceAllString(text, "${1}"+o.side.root)
	text = installLine.ReplaceAllString(text, "")
	for _, r := range addressRewrites {
		text = strings.ReplaceAll(text, r.from, r.to)
	}
	// ocft's own loopbackeddev would take any free loop device and
	// attach it by itself; the tier hands it one it made.
	switch c.env {
	case loopEnv:
		if !loopVarLine.MatchString(text) {
			return "", fmt.Errorf("%s: no OCFT_loop= line to point at the tier's loop device", c.name)
		}
		text = loopVarLine.ReplaceAllString(text, "${1}"+o.loopDev)
	case libvirtEnv:
		if !domainVarLine.MatchString(text) {
			return "", fmt.Errorf("%s: no OCFT_config= line to point at the tier's domain", c.name)
		}
		text = domainVarLine.ReplaceAllString(text, "${1}"+o.domainXML)
	}
	return text, nil
}

var (
	ipv4Like = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	ipv6Like = regexp.MustCompile(`[0-9A-Fa-f]*:[0-9A-Fa-f:.]*`)
)

// addresses returns every IP address written in text, comments
// included: dotted quads, and colon-separated tokens that parse as IPv6
// ("18:50:04" in a comment's date does not).
func addresses(text string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ipv4Like.FindAllString(text, -1) {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		} else {
			// 999.1.2.3 is no address, but the check should not let
			// anything address-shaped through unseen.
			out = append(out, netip.Addr{})
		}
	}
	for _, s := range ipv6Like.FindAllString(text, -1) {
		if strings.Count(s, ":") < 2 {
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// foreignAddresses returns the addresses of text outside allowedPrefixes
// and scopedPrefixes.
func foreignAddresses(text string) []string {
	var bad []string
	for _, a := range addresses(text) {
		if !a.IsValid() {
			bad = append(bad, "an invalid dotted quad")
			continue
		}
		if !inAny(a, allowedPrefixes) && !inAny(a, scopedPrefixes) {
			bad = append(bad, a.String())
		}
	}
	return bad
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// readConfig reads the shipped config.
func readConfig(c config) (string, error) {
	data, err := os.ReadFile(filepath.Join(ocftConfigs, c.name))
	return string(data), err
}

// TestRewrite checks the rewrite on the shipped configs: the originals
// have addresses the check refuses (so it is not vacuous), the rewritten
// ones have none, and every side gets its own AgentRoot.
func TestRewrite(t *testing.T) {
	for _, c := range configs {
		text, err := readConfig(c)
		if err != nil {
			h.Require(t, false, "ocft configs (resource-agents): %v", err)
		}
		if c.env == netnsEnv && len(foreignAddresses(text)) == 0 {
			t.Errorf("foreignAddresses(shipped %s) = none, want the 192.168/2001:db8 addresses it ships with", c.name)
		}
		for _, sd := range sides {
			got, err := rewrite(c, text, rewriteOpts{side: sd, loopDev: "/dev/loop9", domainXML: "/x/d.xml"})
			if err != nil {
				t.Errorf("rewrite(%s, %s) = %v", c.name, sd.name, err)
				continue
			}
			if bad := foreignAddresses(got); len(bad) > 0 {
				t.Errorf("foreignAddresses(rewrite(%s, %s)) = %q, want none", c.name, sd.name, bad)
			}
			if !strings.Contains(got, "AgentRoot "+sd.root+"\n") {
				t.Errorf("rewrite(%s, %s) has no \"AgentRoot %s\" line", c.name, sd.name, sd.root)
			}
		}
	}
	for in, want := range map[string]int{
		"ip addr add 192.168.1.1/24": 1, "10.0.0.1 and 2001:db8::1": 2, "fe80::2 127.0.0.3 192.0.2.7 fd00::1": 0,
		"date 18:50:04, version 3.9.6": 0, "8.8.8.8": 1, "::ffff:192.168.0.1": 2,
	} {
		if got := foreignAddresses(in); len(got) != want {
			t.Errorf("foreignAddresses(%q) = %q, want %d of them", in, got, want)
		}
	}
}
