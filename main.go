// Command paceline is a set of native Pacemaker agents in one binary: it
// acts as the agent whose name it was called by, or, called as paceline,
// as a tool that lists, describes and runs them.
//
// Agents that need libvirt (VirtualDomain) need cgo, and a binary with cgo
// is dynamically linked, which costs every agent process about 0.6 ms of
// CPU at start: a third of a whole IPaddr2 monitor. So paceline is built
// static without cgo, and a second build of the same program with cgo,
// paceline-libvirt, runs the libvirt agents' actions that need the libvirt
// library: paceline execs it for them (no fork), beside itself or in
// ../libexec/paceline/. A VirtualDomain monitor needs none (it speaks
// libvirt's protocol itself), so it stays in this static process.
//
// The fence agents need the IPMI library, whose packages' start-up work
// would slow every OCF agent process too, so they live in a third build,
// paceline-fence (static, tag "ipmi"); installed fence agents are links to
// it, and paceline execs it when called by a fence agent's name.
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

	"github.com/paceline-ha/paceline/agents"
	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

func main() {
	name := filepath.Base(os.Args[0])
	if e, ok := agents.Lookup(name); ok && e.Kind == agents.OCF {
		if e.Delegated != "" {
			action := ""
			if len(os.Args) > 1 {
				action = os.Args[1]
			}
			if e.RunsHere == nil || !e.RunsHere(action, func(p string) string { return os.Getenv("OCF_RESKEY_" + p) }) {
				ocf.Delegate(name, e.Delegated) // returns only when that program is missing
			}
		}
		ocf.Main(e.Agent())
	}
	if e, ok := agents.Lookup(name); ok && e.Kind == agents.Fence {
		if e.Delegated != "" {
			ocf.Delegate(name, e.Delegated) // returns only when that program is missing
		}
		fence.Main(e.FenceAgent())
	}
	if strings.HasPrefix(name, "paceline") {
		os.Exit(agents.Tool(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(agents.UnknownName(name, os.Stderr))
}
