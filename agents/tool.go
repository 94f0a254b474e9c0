package agents

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/agents/exportfs"
	"github.com/paceline-ha/paceline/agents/filesystem"
	"github.com/paceline-ha/paceline/agents/ipaddr2"
	"github.com/paceline-ha/paceline/agents/nfsserver"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Version is the paceline version, set at build time with
// -ldflags "-X github.com/paceline-ha/paceline/agents.Version=...".
var Version = "dev"

const toolUsage = `usage: paceline COMMAND

  list [--names] [--kind ocf|fence]
                               the agents this binary provides
  meta-data AGENT              print an agent's metadata XML
  run [options] AGENT ACTION [name=value ...]
                               run one action as Pacemaker would and report
                               the exit code and exit reason
  version                      print the version

run options:
  -n, --instance NAME          OCF_RESOURCE_INSTANCE (default "paceline")
  --timeout DURATION           operation timeout (default: the agent's)
  --interval DURATION          run as a recurring monitor with this interval
  --probe                      run as a probe (interval 0)
  --depth N                    OCF_CHECK_LEVEL
  --meta name=value            an extra meta attribute (CRM_meta_name)
  -v, --verbose                show the agent's stdout and stderr

The agents are installed as /usr/lib/ocf/resource.d/paceline/<AGENT>;
Pacemaker runs them as ocf:paceline:<AGENT>.
`

// Tool is the "paceline" command. args[0] is the program name.
func Tool(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprint(stderr, toolUsage)
		return 2
	}
	switch args[1] {
	case "list":
		return list(args[2:], stdout, stderr)
	case "meta-data", "metadata":
		if len(args) != 3 {
			fmt.Fprint(stderr, "usage: paceline meta-data AGENT\n")
			return 2
		}
		e, ok := Lookup(args[2])
		if !ok {
			fmt.Fprintf(stderr, "paceline: unknown agent %q (see paceline list)\n", args[2])
			return 2
		}
		_, _ = stdout.Write(e.Metadata())
		return 0
	case "run":
		return runCmd(args[2:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "paceline %s\n", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, toolUsage)
		return 0
	case ipaddr2.AnnounceCommand:
		return ipaddr2.AnnounceMain(args[2:], stderr)
	case filesystem.CheckCommand:
		return filesystem.CheckMain(args[2:], stderr)
	case exportfs.FSCommand:
		return exportfs.FSMain(args[2:], stdout, stderr)
	case nfsserver.NotifyCommand:
		return nfsserver.NotifyMain(args[2:], stderr)
	}
	fmt.Fprintf(stderr, "paceline: unknown command %q\n\n%s", args[1], toolUsage)
	return 2
}

// UnknownName is what the binary does when called by a name that is
// neither "paceline" nor an agent: a short usage and OCF's "not
// installed" code, which Pacemaker treats as "this agent is missing here".
func UnknownName(name string, stderr io.Writer) int {
	var names []string
	for _, e := range All() {
		names = append(names, e.Name)
	}
	fmt.Fprintf(stderr, "paceline: called as %q, which is not an agent (agents: %s); run \"paceline help\"\n",
		name, strings.Join(names, ", "))
	return int(ocf.ErrInstalled)
}

func runCmd(args []string, stdout, stderr io.Writer) int {
	call := ocf.Call{Instance: "paceline", Params: map[string]string{}, Meta: map[string]string{}, Provider: Provider}
	verbose, probe := false, false
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, bool) {
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "paceline run: %s needs a value\n", a)
				return "", false
			}
			i++
			return args[i], true
		}
		switch a {
		case "-n", "--instance":
			v, ok := next()
			if !ok {
				return 2
			}
			call.Instance = v
		case "--timeout", "--interval":
			v, ok := next()
			if !ok {
				return 2
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				fmt.Fprintf(stderr, "paceline run: %s %q is not a positive duration (e.g. 20s)\n", a, v)
				return 2
			}
			if a == "--timeout" {
				call.Timeout = d
			} else {
				call.Interval = d
			}
		case "--probe":
			probe = true
		case "--depth":
			v, ok := next()
			if !ok {
				return 2
			}
			if _, err := strconv.Atoi(v); err != nil {
				fmt.Fprintf(stderr, "paceline run: --depth %q is not a number\n", v)
				return 2
			}
			call.CheckLevel = v
		case "--meta":
			v, ok := next()
			if !ok {
				return 2
			}
			if !setOnce(stderr, call.Meta, "--meta", "meta attribute", v) {
				return 2
			}
		case "-v", "--verbose":
			verbose = true
		default:
			if strings.HasPrefix(a, "-") && len(pos) < 2 {
				fmt.Fprintf(stderr, "paceline run: unknown option %s\n\n%s", a, toolUsage)
				return 2
			}
			pos = append(pos, a)
		}
	}
	if len(pos) < 2 {
		fmt.Fprint(stderr, "usage: paceline run [options] AGENT ACTION [name=value ...]\n")
		return 2
	}
	e, ok := Lookup(pos[0])
	if !ok || e.Kind != OCF {
		fmt.Fprintf(stderr, "paceline run: unknown agent %q (see paceline list)\n", pos[0])
		return 2
	}
	call.Type, call.Argv0, call.Action = e.Name, e.Name, pos[1]
	for _, kv := range pos[2:] {
		if !setOnce(stderr, call.Params, "parameter", "parameter", kv) {
			return 2
		}
	}
	if probe {
		call.Interval = 0
	}
	if call.Timeout == 0 {
		call.Timeout = 20 * time.Second
		if spec, ok := e.OCF().Meta.Action(call.Action); ok && spec.Timeout > 0 {
			call.Timeout = spec.Timeout
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "paceline run: %v\n", err)
		return 1
	}
	call.Path = self
	call.BaseEnv = os.Environ()
	res, err := call.Run(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "paceline run: %v\n", err)
		return 1
	}
	if res.Stdout != "" && (verbose || call.Action == "meta-data" || call.Action == "usage" || call.Action == "methods") {
		fmt.Fprint(stdout, res.Stdout)
	}
	if verbose && res.Stderr != "" {
		fmt.Fprint(stderr, res.Stderr)
	}
	res.Describe(stdout)
	return int(res.Code)
}

func list(args []string, stdout, stderr io.Writer) int {
	names, kind := false, -1
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--names":
			names = true
		case args[i] == "--kind" && i+1 < len(args):
			i++
			switch args[i] {
			case "ocf":
				kind = int(OCF)
			case "fence":
				kind = int(Fence)
			default:
				fmt.Fprintf(stderr, "paceline list: unknown kind %q (ocf or fence)\n", args[i])
				return 2
			}
		default:
			fmt.Fprintf(stderr, "paceline list: unknown option %q\n", args[i])
			return 2
		}
	}
	for _, e := range All() {
		if kind >= 0 && int(e.Kind) != kind {
			continue
		}
		switch {
		case names:
			fmt.Fprintln(stdout, e.Name)
		case e.Kind == OCF:
			fmt.Fprintf(stdout, "ocf:%s:%-14s replaces %s\n", Provider, e.Name, e.Replaces)
		default:
			fmt.Fprintf(stdout, "%-22s replaces %s\n", e.Name, e.Replaces)
		}
	}
	return 0
}

// setOnce stores a name=value argument of paceline run in m. Pacemaker has
// one value per parameter and meta attribute: taking the last of two
// silently would act on something the caller may not mean, so a second
// one is refused, and nothing runs. Values are never shown: one may be a
// password.
func setOnce(stderr io.Writer, m map[string]string, flag, what, kv string) bool {
	k, v, found := strings.Cut(kv, "=")
	if !found || k == "" {
		fmt.Fprintf(stderr, "paceline run: %s %q is not name=value\n", flag, kv)
		return false
	}
	if _, dup := m[k]; dup {
		fmt.Fprintf(stderr, "paceline run: %s %s given twice; nothing was run\n", what, k)
		return false
	}
	m[k] = v
	return true
}
