// Command paceline is a set of native Pacemaker agents in one binary: it
// acts as the agent whose name it was called by, or, called as paceline,
// as a tool that lists, describes and runs them.
//
// Agents that need libvirt (VirtualDomain) need cgo, and a binary with cgo
// is dynamically linked, which costs every agent process about 0.6 ms of
// CPU at start: a third of a whole IPaddr2 monitor. So paceline is built
// static without cgo, and a second build of the same program with cgo,
// paceline-libvirt, runs the libvirt agents: paceline execs it for them
// (no fork), beside itself or in ../libexec/paceline/.
//
// The runtime settings below keep the start of every agent process cheap:
// no cgroup-derived GOMAXPROCS and no background GOMAXPROCS updates.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/paceline-ha/paceline/agents"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

func main() {
	name := filepath.Base(os.Args[0])
	if e, ok := agents.Lookup(name); ok && e.Kind == agents.OCF {
		if e.Delegated && (len(os.Args) < 2 || os.Args[1] != "meta-data") {
			delegate(name) // returns only when paceline-libvirt is missing
		}
		ocf.Main(e.Agent())
	}
	if strings.HasPrefix(name, "paceline") {
		os.Exit(agents.Tool(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(agents.UnknownName(name, os.Stderr))
}

// companion is the name of the cgo build of this program.
const companion = "paceline-libvirt"

// delegate replaces this process with paceline-libvirt acting as agent.
func delegate(agent string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	dir := filepath.Dir(self)
	for _, p := range []string{
		filepath.Join(dir, companion),
		filepath.Join(dir, "..", "libexec", "paceline", companion),
	} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			argv := append([]string{agent}, os.Args[1:]...)
			_ = syscall.Exec(p, argv, os.Environ())
		}
	}
}
