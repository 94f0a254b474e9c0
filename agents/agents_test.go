package agents

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/pkg/ocf/metaxml"
)

var update = flag.Bool("update", false, "rewrite the committed metadata files")

// TestMain lets the test binary act as the paceline binary when it is
// re-executed under an agent's name, so exit codes are real exit codes.
func TestMain(m *testing.M) {
	if e, ok := Lookup(filepath.Base(os.Args[0])); ok {
		if e.Kind == OCF {
			ocf.Main(e.Agent())
		}
		fence.Main(e.FenceAgent())
	}
	os.Exit(m.Run())
}

// TestMetadataCurrent fails when metadata/*.xml differ from what the Go
// definitions render; "make metadata" rewrites them.
func TestMetadataCurrent(t *testing.T) {
	dir := filepath.Join("..", "metadata")
	want := map[string]bool{}
	for _, e := range All() {
		name := e.Name + ".xml"
		want[name] = true
		path := filepath.Join(dir, name)
		got := render(e)
		if *update {
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		committed, err := os.ReadFile(path)
		require.NoError(t, err, "run make metadata")
		if !bytes.Equal(committed, got) {
			t.Errorf("%s is stale: run make metadata", path)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s belongs to no agent", f)
		}
	}
}

// render renders an entry's metadata from the Go definitions (the
// metadata renderer stays out of the agents' binary).
func render(e Entry) []byte {
	if e.Kind == Fence {
		return e.Fence().As(e.Name).RenderMetadata()
	}
	return metaxml.Render(e.OCF().Meta)
}

func TestRegistry(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range All() {
		assert.False(t, seen[e.Name], "duplicate %s", e.Name)
		seen[e.Name] = true
		if e.Kind == OCF {
			a := e.OCF()
			assert.Equal(t, e.Name, a.Meta.Name)
			for _, act := range a.Meta.Actions {
				switch act.Name {
				case "meta-data", "status":
					continue
				}
				assert.Contains(t, a.Handlers, act.Name, "%s advertises %s without a handler", e.Name, act.Name)
			}
		}
	}
	_, ok := Lookup("nonexistent")
	assert.False(t, ok)
}

func tool(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Tool(append([]string{"paceline"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestTool(t *testing.T) {
	code, out, _ := tool("list")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "ocf:paceline:IPaddr2")
	assert.Contains(t, out, "replaces ocf:heartbeat:IPaddr2")

	code, out, _ = tool("list", "--names", "--kind", "ocf")
	assert.Equal(t, 0, code)
	assert.Equal(t, "Filesystem\nIPaddr2\nVirtualDomain\ndrbd\nexportfs\nnfsserver\n", out)

	code, _, _ = tool("list", "--kind", "bogus")
	assert.Equal(t, 2, code)

	code, out, _ = tool("meta-data", "IPaddr2")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, `<resource-agent name="IPaddr2"`)

	code, _, errs := tool("meta-data", "Nope")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "unknown agent")

	code, out, _ = tool("version")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "paceline "))

	code, _, errs = tool("frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "unknown command")

	code, _, errs = tool()
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "usage")

	code, _, errs = tool("run", "IPaddr2")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "usage: paceline run")

	code, _, errs = tool("run", "--timeout", "soon", "IPaddr2", "monitor")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "not a positive duration")

	code, _, errs = tool("run", "IPaddr2", "monitor", "noequals")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "not name=value")

	var errb bytes.Buffer
	assert.Equal(t, int(ocf.ErrInstalled), UnknownName("Whatever", &errb))
	assert.Contains(t, errb.String(), "IPaddr2")
}

// agentPath makes an agent-named link to the test binary.
func agentPath(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.Symlink(self, p))
	return p
}

// TestIPaddr2ExitCodes runs the agent as a process, for the cases that
// change nothing on the system.
func TestIPaddr2ExitCodes(t *testing.T) {
	path := agentPath(t, "IPaddr2")
	tests := []struct {
		name     string
		action   string
		params   map[string]string
		meta     map[string]string
		interval time.Duration
		want     ocf.Status
		reason   string
	}{
		{name: "meta-data", action: "meta-data", want: ocf.Success},
		{name: "usage", action: "usage", want: ocf.Success},
		{name: "unknown action", action: "promote", params: map[string]string{"ip": "192.0.2.1"}, want: ocf.ErrUnimplemented},
		{name: "validate without ip", action: "validate-all", want: ocf.ErrConfigured, reason: "ip is required"},
		{name: "validate bad ip", action: "validate-all", params: map[string]string{"ip": "300.1.1.1"}, want: ocf.ErrConfigured, reason: "not a valid"},
		{name: "start bad prefix", action: "start", params: map[string]string{"ip": "192.0.2.1", "cidr_netmask": "40"}, want: ocf.ErrConfigured, reason: "1..32"},
		{name: "clone refused at validate", action: "validate-all", params: map[string]string{"ip": "192.0.2.1"},
			meta: map[string]string{"clone_max": "2"}, want: ocf.ErrConfigured, reason: "cloned IPaddr2"},
		{name: "unique_clone_address refused at start", action: "start", params: map[string]string{"ip": "192.0.2.1", "unique_clone_address": "true"},
			want: ocf.ErrConfigured, reason: "unique_clone_address is not supported"},
		{name: "lvs refused at start", action: "start", params: map[string]string{"ip": "192.0.2.1", "lvs_support": "yes"},
			want: ocf.ErrConfigured, reason: "lvs_support is not supported"},
		{name: "monitor never returns 6", action: "monitor", params: map[string]string{"ip": "bogus"},
			interval: 10 * time.Second, want: ocf.NotRunning},
		{name: "probe with bad config", action: "monitor", params: map[string]string{}, want: ocf.NotRunning},
		{name: "stop with bad config", action: "stop", params: map[string]string{"ip": "bogus"}, want: ocf.Success},
		{name: "missing namespace on monitor", action: "monitor", params: map[string]string{"ip": "192.0.2.1", "network_namespace": "paceline-none"},
			want: ocf.NotRunning, reason: "does not exist"},
		{name: "missing namespace on start", action: "start", params: map[string]string{"ip": "192.0.2.1", "network_namespace": "paceline-none"},
			want: ocf.ErrArgs, reason: "does not exist"},
		{name: "missing namespace on stop", action: "stop", params: map[string]string{"ip": "192.0.2.1", "network_namespace": "paceline-none"},
			want: ocf.Success},
		// ocft's "monitor failure when 'OCF_RESKEY_nic' is vanished".
		{name: "vanished nic on a recurring monitor", action: "monitor", params: map[string]string{"ip": "192.0.2.1", "nic": "ethVanished"},
			interval: 10 * time.Second, want: ocf.ErrGeneric, reason: "interface ethVanished does not exist"},
		{name: "vanished nic on a probe", action: "monitor", params: map[string]string{"ip": "192.0.2.1", "nic": "ethVanished"},
			want: ocf.NotRunning, reason: "interface ethVanished does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Geteuid() != 0 && (tt.action == "start" || tt.action == "stop") {
				tt.want, tt.reason = ocf.ErrPerm, "root"
			}
			c := ocf.Call{Path: path, Type: "IPaddr2", Instance: "vip", Action: tt.action,
				Params: tt.params, Meta: tt.meta, Interval: tt.interval, Timeout: 10 * time.Second,
				ExtraEnv: []string{"HA_RSCTMP=" + t.TempDir()}}
			res, err := c.Run(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Code, "stderr: %s", res.Stderr)
			assert.Contains(t, res.Reason, tt.reason)
			if tt.action == "meta-data" {
				assert.Contains(t, res.Stdout, "<resource-agent")
			}
		})
	}
}

// TestToolRun runs agents through "paceline run", which re-executes this
// test binary under the agent's name (see TestMain).
func TestToolRun(t *testing.T) {
	code, out, _ := tool("run", "IPaddr2", "meta-data")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, `<resource-agent name="IPaddr2"`)
	assert.Contains(t, out, "exit code 0 (OCF_SUCCESS)")

	code, out, _ = tool("run", "--timeout", "5s", "IPaddr2", "validate-all")
	assert.Equal(t, int(ocf.ErrConfigured), code)
	assert.Contains(t, out, "exit code 6 (OCF_ERR_CONFIGURED)")
	assert.Contains(t, out, "exit reason: parameter ip is required")

	code, out, _ = tool("run", "--probe", "IPaddr2", "monitor", "ip=not-an-address")
	assert.Equal(t, int(ocf.NotRunning), code)
	assert.Contains(t, out, "OCF_NOT_RUNNING")

	// A parameter or meta attribute given twice is a usage error and
	// nothing runs: meta-data would print the XML and a result line.
	for _, args := range [][]string{
		{"run", "IPaddr2", "meta-data", "ip=192.0.2.5", "ip=192.0.2.6"},
		{"run", "IPaddr2", "meta-data", "ip=192.0.2.5", "ip=192.0.2.5"},
		{"run", "--meta", "timeout=5", "--meta", "timeout=6", "IPaddr2", "meta-data"},
	} {
		code, out, errOut := tool(args...)
		assert.Equal(t, 2, code, "paceline %v", args)
		assert.Empty(t, out, "paceline %v ran the agent", args)
		assert.Contains(t, errOut, "given twice; nothing was run", "paceline %v", args)
	}
}
