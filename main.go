// Command paceline is a set of native Pacemaker agents in one binary: it
// acts as the agent whose name it was called by, or, called as paceline,
// as a tool that lists, describes and runs them.
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
		ocf.Main(e.OCF())
	}
	if strings.HasPrefix(name, "paceline") {
		os.Exit(agents.Tool(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(agents.UnknownName(name, os.Stderr))
}
