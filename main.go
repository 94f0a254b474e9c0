// Command paceline is a set of native Pacemaker agents in one binary: it
// acts as the agent whose name it was called by, or, called as paceline,
// as a tool that lists, describes and runs them.
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
	"github.com/paceline-ha/paceline/pkg/ocf"
)

func main() {
	name := filepath.Base(os.Args[0])
	if e, ok := agents.Lookup(name); ok && e.Kind == agents.OCF {
		ocf.Main(e.Agent())
	}
	if strings.HasPrefix(name, "paceline") {
		os.Exit(agents.Tool(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(agents.UnknownName(name, os.Stderr))
}
