package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatusNames(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{Success, "OCF_SUCCESS"}, {ErrGeneric, "OCF_ERR_GENERIC"}, {ErrArgs, "OCF_ERR_ARGS"},
		{ErrUnimplemented, "OCF_ERR_UNIMPLEMENTED"}, {ErrPerm, "OCF_ERR_PERM"},
		{ErrInstalled, "OCF_ERR_INSTALLED"}, {ErrConfigured, "OCF_ERR_CONFIGURED"},
		{NotRunning, "OCF_NOT_RUNNING"}, {RunningPromoted, "OCF_RUNNING_MASTER"},
		{FailedPromoted, "OCF_FAILED_MASTER"}, {Degraded, "OCF_DEGRADED"},
		{DegradedPromoted, "OCF_DEGRADED_MASTER"}, {Status(42), "OCF_UNKNOWN(42)"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Status(%d).String() = %q, want %q", int(tt.s), got, tt.want)
		}
	}
}

func TestCodeAndReason(t *testing.T) {
	cause := errors.New("netlink: no such device")
	tests := []struct {
		name       string
		err        error
		code       Status
		reason     string
		causeReach bool
	}{
		{"nil", nil, Success, "", false},
		{"plain error", errors.New("boom"), ErrGeneric, "boom", false},
		{"generic", Generic("disk %s failed", "sda"), ErrGeneric, "disk sda failed", false},
		{"configured", NotConfigured("ip is required"), ErrConfigured, "ip is required", false},
		{"wrapped cause", Generic("add address: %w", cause), ErrGeneric, "add address: netlink: no such device", true},
		{"context around code", fmt.Errorf("start: %w", NotInstalled("no drbdadm")), ErrInstalled, "start: no drbdadm", false},
		{"bare stopped", Stopped(""), NotRunning, "", false},
		{"stopped with reason", Stopped("on eth1, expected eth0"), NotRunning, "on eth1, expected eth0", false},
		{"result promoted", Result(RunningPromoted), RunningPromoted, "", false},
		{"result success", Result(Success), Success, "", false},
		{"perm", Perm("need root"), ErrPerm, "need root", false},
		{"args", InvalidArgs("no such file"), ErrArgs, "no such file", false},
		{"unimplemented", Unimplemented("no reload"), ErrUnimplemented, "no reload", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf(%v) = %v, want %v", tt.err, got, tt.code)
			}
			if got := ReasonOf(tt.err); got != tt.reason {
				t.Errorf("ReasonOf(%v) = %q, want %q", tt.err, got, tt.reason)
			}
			if got := errors.Is(tt.err, cause); got != tt.causeReach {
				t.Errorf("errors.Is(%v, cause) = %v, want %v", tt.err, got, tt.causeReach)
			}
		})
	}
}

func TestMargin(t *testing.T) {
	tests := []struct{ timeout, want time.Duration }{
		{20 * time.Second, 2 * time.Second},
		{90 * time.Second, 5 * time.Second},
		{3 * time.Second, 500 * time.Millisecond},
		{600 * time.Millisecond, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := Margin(tt.timeout); got != tt.want {
			t.Errorf("Margin(%v) = %v, want %v", tt.timeout, got, tt.want)
		}
	}
}

func testAgent(h map[string]Handler) *Agent {
	return &Agent{
		Meta: Metadata{
			Name: "Test", Version: "1.0", ShortDesc: "test", LongDesc: "a test agent",
			Parameters: []Parameter{
				{Name: "ip", Type: TypeString, Required: true, Unique: true, ShortDesc: "ip", LongDesc: "ip"},
				{Name: "count", Type: TypeInteger, Default: "5", ShortDesc: "count", LongDesc: "count"},
				{Name: "flag", Type: TypeBoolean, Default: "false", ShortDesc: "flag", LongDesc: "flag"},
			},
			Actions: []ActionSpec{
				{Name: "start", Timeout: 30 * time.Second},
				{Name: "monitor", Timeout: 15 * time.Second, Interval: 10 * time.Second, HasDepth: true},
				{Name: "meta-data", Timeout: 5 * time.Second},
			},
		},
		Handlers:    h,
		MetadataXML: []byte("<resource-agent name=\"Test\" version=\"1.0\"></resource-agent>\n"),
	}
}

func TestParseEnv(t *testing.T) {
	env := map[string]string{
		"OCF_RESOURCE_INSTANCE":                   "drbd0:1",
		"OCF_RESOURCE_TYPE":                       "drbd",
		"OCF_RESKEY_ip":                           "192.0.2.5",
		"OCF_RESKEY_flag":                         "yes",
		"OCF_RESKEY_crm_feature_set":              "3.16.2",
		"OCF_RESKEY_CRM_meta_timeout":             "30000",
		"OCF_RESKEY_CRM_meta_interval":            "10000",
		"OCF_RESKEY_CRM_meta_on_node":             "node1",
		"OCF_RESKEY_CRM_meta_clone":               "1",
		"OCF_RESKEY_CRM_meta_clone_max":           "2",
		"OCF_RESKEY_CRM_meta_master_max":          "1",
		"OCF_RESKEY_CRM_meta_promoted_node_max":   "1",
		"OCF_RESKEY_CRM_meta_notify":              "true",
		"OCF_RESKEY_CRM_meta_notify_type":         "pre",
		"OCF_RESKEY_CRM_meta_notify_operation":    "promote",
		"OCF_RESKEY_CRM_meta_notify_master_uname": "node2 ",
		"OCF_RESKEY_CRM_meta_notify_start_uname":  " ",
		"OCF_RESKEY_CRM_meta_migrate_source":      "a",
		"OCF_RESKEY_CRM_meta_migrate_target":      "b",
		"OCF_CHECK_LEVEL":                         "20",
		"HA_RSCTMP":                               "/tmp/rsc",
	}
	r := parseEnv(env, "monitor", testAgent(nil))
	assert.Equal(t, "drbd", r.Agent)
	assert.Equal(t, "drbd0", r.BaseInstance())
	assert.Equal(t, map[string]string{"ip": "192.0.2.5", "flag": "yes"}, r.Params)
	assert.Equal(t, 30*time.Second, r.Meta.Timeout)
	assert.Equal(t, 10*time.Second, r.Meta.Interval)
	assert.True(t, r.IsRecurring())
	assert.False(t, r.Probe)
	assert.Equal(t, 20, r.CheckLevel)
	assert.Equal(t, "node1", r.Meta.OnNode)
	assert.Equal(t, 1, r.Meta.Clone)
	assert.True(t, r.Meta.IsClone())
	assert.Equal(t, 1, r.Meta.PromotedMax, "legacy master_max is read")
	assert.True(t, r.Meta.IsPromotable())
	assert.Equal(t, 1, r.Meta.PromotedNodeMax)
	assert.True(t, r.Meta.NotifyEnabled)
	assert.Equal(t, "pre", r.Notify.Type)
	assert.Equal(t, "promote", r.Notify.Operation)
	assert.Equal(t, []string{"node2"}, r.Notify.Unames["promoted"], "legacy master list merged")
	assert.Empty(t, r.Notify.Unames["start"], "a single space is an empty list")
	assert.Equal(t, "a", r.Meta.MigrateSource)
	assert.Equal(t, "b", r.Meta.MigrateTarget)
	assert.Equal(t, "/tmp/rsc", r.StateDir)
	// Defaults come from the metadata; set values win.
	assert.Equal(t, "5", r.Param("count"))
	n, err := r.Int("count")
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	assert.True(t, r.Bool("flag"))
}

func TestProbeDetection(t *testing.T) {
	tests := []struct {
		action, interval string
		want             bool
	}{
		{"monitor", "", true},
		{"monitor", "0", true},
		{"status", "0", true},
		{"monitor", "10000", false},
		{"start", "", false},
	}
	for _, tt := range tests {
		env := map[string]string{"OCF_RESOURCE_INSTANCE": "x"}
		if tt.interval != "" {
			env["OCF_RESKEY_CRM_meta_interval"] = tt.interval
		}
		if got := parseEnv(env, tt.action, testAgent(nil)).Probe; got != tt.want {
			t.Errorf("probe(%s, interval=%q) = %v, want %v", tt.action, tt.interval, got, tt.want)
		}
	}
}

func TestIntParamError(t *testing.T) {
	r := parseEnv(map[string]string{"OCF_RESKEY_count": "many"}, "start", testAgent(nil))
	_, err := r.Int("count")
	assert.Equal(t, ErrConfigured, CodeOf(err))
	assert.Contains(t, err.Error(), "count")
}

func TestIsTrue(t *testing.T) {
	for _, v := range []string{"yes", "YES", "true", "True", "1", "on", "ON"} {
		assert.True(t, IsTrue(v), v)
	}
	for _, v := range []string{"", "no", "false", "0", "off", "maybe"} {
		assert.False(t, IsTrue(v), v)
	}
}

func execAgent(t *testing.T, a *Agent, env []string, args ...string) (Status, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Exec(a, Invocation{Args: append([]string{"Test"}, args...), Env: env, Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestExecDispatch(t *testing.T) {
	called := ""
	var deadline time.Time
	var start = time.Now()
	a := testAgent(map[string]Handler{
		"start": func(ctx context.Context, r *Request) error {
			called = "start"
			deadline, _ = ctx.Deadline()
			return nil
		},
		"monitor": func(ctx context.Context, r *Request) error {
			called = "monitor"
			return Stopped("")
		},
		"stop": func(ctx context.Context, r *Request) error {
			return NotConfigured("ip=%q is not an address", r.Param("ip"))
		},
	})
	env := []string{"OCF_RESOURCE_INSTANCE=t1", "OCF_RA_VERSION_MAJOR=1", "OCF_RESKEY_ip=bad"}

	code, out, _ := execAgent(t, a, nil, "meta-data")
	assert.Equal(t, Success, code, "meta-data needs no environment")
	assert.Contains(t, out, `<resource-agent name="Test"`)

	code, out, _ = execAgent(t, a, nil, "usage")
	assert.Equal(t, Success, code)
	assert.Contains(t, out, "usage: Test {")

	code, _, stderr := execAgent(t, a, env)
	assert.Equal(t, ErrUnimplemented, code, "no action")
	assert.Contains(t, stderr, "usage")

	code, _, stderr = execAgent(t, a, env, "reload")
	assert.Equal(t, ErrUnimplemented, code)
	assert.Contains(t, stderr, `ocf-exit-reason:action "reload" is not supported`)

	code, _, _ = execAgent(t, a, env, "start", "extra-argument")
	assert.Equal(t, Success, code, "extra arguments are ignored")
	assert.Equal(t, "start", called)
	// No CRM_meta_timeout: the start default of 30 s less the 3 s margin.
	assert.WithinDuration(t, start.Add(27*time.Second), deadline, 2*time.Second)

	code, _, stderr = execAgent(t, a, env, "status")
	assert.Equal(t, NotRunning, code, "status falls back to monitor")
	assert.Equal(t, "monitor", called)
	assert.NotContains(t, stderr, "ocf-exit-reason", "a plain not-running has no reason")

	code, _, stderr = execAgent(t, a, append(env, "OCF_EXIT_REASON_PREFIX=why:"), "stop")
	assert.Equal(t, ErrConfigured, code)
	assert.Contains(t, stderr, "why:ip=\"bad\" is not an address\n")

	code, _, stderr = execAgent(t, a, []string{"OCF_RA_VERSION_MAJOR=1"}, "start")
	assert.Equal(t, ErrArgs, code, "OCF 1.x executor without an instance")
	assert.Contains(t, stderr, "OCF_RESOURCE_INSTANCE")

	code, _, _ = execAgent(t, a, []string{}, "start")
	assert.Equal(t, Success, code, "manual run without OCF_RA_VERSION_MAJOR")
}

func TestExecTimeoutFromMeta(t *testing.T) {
	var got *Request
	a := testAgent(map[string]Handler{"monitor": func(ctx context.Context, r *Request) error {
		got = r
		return nil
	}})
	execAgent(t, a, []string{"OCF_RESOURCE_INSTANCE=x", "OCF_RESKEY_CRM_meta_timeout=4000"}, "monitor")
	require.NotNil(t, got)
	assert.Equal(t, 4*time.Second, got.Timeout)
	assert.WithinDuration(t, time.Now().Add(3500*time.Millisecond), got.Deadline, time.Second)
}

func TestLoggerFile(t *testing.T) {
	// Days 7 and 17: a one-digit day is where a format with the day
	// padded by a space (Go's time.Stamp) and date's %d part ways.
	for _, tt := range []struct {
		name    string
		datefmt string
		at      time.Time
		want    string // the log file line's date
	}{
		{"default, one-digit day", "", time.Date(2026, 12, 7, 13, 27, 18, 0, time.UTC), "Dec 07 13:27:18 "},
		{"default, two-digit day", "", time.Date(2026, 1, 17, 3, 4, 5, 0, time.UTC), "Jan 17 03:04:05 "},
		{"HA_DATEFMT", "%F %T%z ", time.Date(2026, 12, 7, 13, 27, 18, 0, time.FixedZone("CET", 3600)), "2026-12-07 13:27:18+0100 "},
		{"HA_DATEFMT without a trailing space", "%s", time.Unix(1796649438, 0), "1796649438"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logf, dbgf := filepath.Join(dir, "ha.log"), filepath.Join(dir, "debug.log")
			var stderr bytes.Buffer
			env := map[string]string{"HA_LOGFILE": logf, "HA_DEBUGLOG": dbgf}
			if tt.datefmt != "" {
				env["HA_DATEFMT"] = tt.datefmt
			}
			l := newLoggerAt(env, "IPaddr2(vip)", &stderr, filepath.Join(dir, "nolog"))
			l.now = func() time.Time { return tt.at }
			l.Infof("adding %s", "192.0.2.5/24")
			l.Debugf("hidden")
			l.Errorf("failed")
			b, err := os.ReadFile(logf)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			require.Len(t, lines, 2)
			pid := os.Getpid()
			// ocf-shellfuncs: echo `hadate`" $HA_LOGTAG:    ${*}"
			assert.Equal(t, fmt.Sprintf("%s IPaddr2(vip)[%d]:    INFO: adding 192.0.2.5/24", tt.want, pid), lines[0])
			assert.Equal(t, fmt.Sprintf("%s IPaddr2(vip)[%d]:    ERROR: failed", tt.want, pid), lines[1])
			// ha_debug: echo "$HA_LOGTAG:	"`hadate`"${*}"
			d, err := os.ReadFile(dbgf)
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("IPaddr2(vip)[%d]:\t%sINFO: adding 192.0.2.5/24\nIPaddr2(vip)[%d]:\t%sERROR: failed\n", pid, tt.want, pid, tt.want), string(d),
				"the debug log gets every line")
			assert.Empty(t, stderr.String(), "a log file took the lines")
		})
	}
}

func TestLoggerDebugAndStderr(t *testing.T) {
	var stderr bytes.Buffer
	l := newLoggerAt(map[string]string{"HA_debug": "1", "HA_LOGFILE": "/nonexistent/dir/x.log"}, "T(x)", &stderr, "/nonexistent/log")
	l.Debugf("detail %d", 7)
	assert.Regexp(t, `^T\(x\)\[\d+\]: DEBUG: detail 7\n$`, stderr.String(), "unwritable file falls back to stderr")
	var nilLog *Logger
	nilLog.Infof("no panic") // a nil logger discards
}

func TestLoggerSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	defer conn.Close()
	var stderr bytes.Buffer
	l := newLoggerAt(map[string]string{"HA_LOGFACILITY": "local3"}, "IPaddr2(vip)", &stderr, sock)
	l.Warnf("link down")
	l.Close()
	buf := make([]byte, 512)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := conn.Read(buf)
	require.NoError(t, err)
	// local3 (19) * 8 + warning (4) = 156
	assert.Regexp(t, `^<156>.*IPaddr2\(vip\)\[\d+\]: WARNING: link down`, string(buf[:n]))
	assert.Empty(t, stderr.String())

	// Facility none: no syslog even if the socket exists.
	l = newLoggerAt(map[string]string{"HA_LOGFACILITY": "none"}, "T", &stderr, sock)
	l.Infof("to stderr")
	assert.Contains(t, stderr.String(), "INFO: to stderr")
}

func TestAttributes(t *testing.T) {
	var calls [][]string
	a := &Attributes{Command: "crm_attribute", Node: "node1", Run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, append([]string{name}, args...))
		return []byte("100\n"), nil
	}}
	ctx := context.Background()
	require.NoError(t, a.SetPromotionScore(ctx, "drbd0", 10000))
	require.NoError(t, a.DeletePromotionScore(ctx, "drbd0"))
	v, err := a.Get(ctx, "pingd", Forever)
	require.NoError(t, err)
	assert.Equal(t, "100", v)
	assert.Equal(t, [][]string{
		{"crm_attribute", "--node", "node1", "--name", "master-drbd0", "--lifetime", "reboot", "--update", "10000"},
		{"crm_attribute", "--node", "node1", "--name", "master-drbd0", "--lifetime", "reboot", "--delete"},
		{"crm_attribute", "--node", "node1", "--name", "pingd", "--lifetime", "forever", "--query", "--quiet"},
	}, calls)
}

func TestLastExitReason(t *testing.T) {
	stderr := "INFO: x\nocf-exit-reason:first\nnoise\nocf-exit-reason:" + strings.Repeat("y", 200) + "\n"
	got := LastExitReason(stderr, "ocf-exit-reason:")
	assert.Equal(t, strings.Repeat("y", 128), got)
}

// TestHandoff: an action that returns Handoff is handed over to the
// program (Invocation.Handoff, Delegate in a real process); when that
// returns (the program is missing), the action ends with the error given.
func TestHandoff(t *testing.T) {
	a := testAgent(map[string]Handler{
		"monitor": func(ctx context.Context, r *Request) error {
			return Handoff("paceline-libvirt", NotInstalled("needs paceline-libvirt"))
		},
	})
	var handed []string
	var out, errb bytes.Buffer
	code := Exec(a, Invocation{Args: []string{"Test", "monitor"}, Env: []string{"OCF_RESOURCE_INSTANCE=t"},
		Stdout: &out, Stderr: &errb, Handoff: func(agent, program string) { handed = append(handed, agent, program) }})
	assert.Equal(t, []string{"Test", "paceline-libvirt"}, handed, "handed over once, as the agent")
	assert.Equal(t, ErrInstalled, code)
	assert.Contains(t, errb.String(), "ocf-exit-reason:needs paceline-libvirt")
	assert.True(t, IsHandoff(Handoff("x", Generic("y")), "x"))
	assert.False(t, IsHandoff(Generic("y"), "x"))
	// Without a hand-over function (a test's Exec) nothing is handed over.
	code, _, _ = execAgent(t, a, []string{"OCF_RESOURCE_INSTANCE=t"}, "monitor")
	assert.Equal(t, ErrInstalled, code)
}
