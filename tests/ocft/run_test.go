//go:build system

package ocft_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/guestimage"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

// run is one config run by ocft against one side.
type run struct {
	cfg     config
	side    side
	scratch scratch
	wrap    []string // the command that enters the run's namespaces
	marker  string   // PACELINE_OCFT_RUN=<marker>: in the environment of all it starts

	// Filled by execute.
	output   string
	cases    []caseResult
	problems []string
	elapsed  time.Duration
	err      error // ocft could not be run, or was killed
	killed   []int // processes left behind, ended by their PID
}

// markerVar marks every process a run starts (ocft, the case scripts,
// the agents and whatever they leave running), so that cleanup finds
// exactly those: they run in their own sessions (ocft starts each agent
// with setsid), so no process group holds them all.
const markerVar = "PACELINE_OCFT_RUN"

// newRun writes the rewritten config into a new scratch dir.
func newRun(t *testing.T, c config, sd side, s scratch, wrap []string, text string) *run {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.ra, "ocft", "configs", c.name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &run{cfg: c, side: sd, scratch: s, wrap: wrap,
		marker: fmt.Sprintf("%d-%s-%s", os.Getpid(), c.name, sd.name)}
	t.Cleanup(func() {
		if pids := killMarked(r.marker); len(pids) > 0 {
			t.Logf("%s %s: ended processes left behind: %v", c.name, sd.name, pids)
		}
	})
	return r
}

// runEnv is the environment ocft runs in: this one without anything
// that would change the agents (OCF_*, HA_*, PCMK_*, a libvirt URI), with
// the agents' log lines on stderr (ocft keeps them with the agent's exit
// reason, and shows them for a failed case) instead of syslog, and a
// copy of each in debugLog (ocft shows nothing of an agent whose action
// fails where no exit code was expected).
func runEnv(marker, debugLog string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "OCF_"), strings.HasPrefix(name, "HA_"), strings.HasPrefix(name, "PCMK_"),
			strings.HasPrefix(name, "LIBVIRT_"), strings.HasPrefix(name, "LC_"), name == "LANG",
			name == "PATH", name == markerVar:
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LC_ALL=C", "HA_LOGFACILITY=none", "HA_DEBUGLOG="+debugLog, markerVar+"="+marker)
}

// timelineRel is the run's timeline, relative to scratch.ra: ocft's
// output as it arrives, each line with ocftPrefix, and the agents' log
// lines, which they append to it as their HA_DEBUGLOG.
const timelineRel = "ocft/timeline.log"

// timelineWriter appends ocft's output to the timeline line by line.
type timelineWriter struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
}

func (w *timelineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := w.f.Write([]byte(ocftPrefix + string(w.partial[:i+1]))); err != nil {
			return 0, err
		}
		w.partial = w.partial[i+1:]
	}
}

// close writes what is left of a last line and closes the file.
func (w *timelineWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		_, _ = w.f.Write([]byte(ocftPrefix + string(w.partial) + "\n"))
	}
	_ = w.f.Close()
}

// execute runs ocft make and ocft test for the run's config inside its
// namespaces and parses the results; it ends whatever the run left
// behind.
func (r *run) execute(ctx context.Context) {
	// The parent-death signal below follows the thread that forks.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now()
	defer func() { r.elapsed = time.Since(start) }()
	path := filepath.Join(r.scratch.ra, timelineRel)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		r.err = err
		return
	}
	w := &timelineWriter{f: f}
	argv := append(append([]string{}, r.wrap...),
		"unshare", "--mount", "--propagation", "private", "--",
		"bash", "-c", nsScript, "ocft-ns", r.scratch.dir, r.cfg.name)
	cmd := proc.Command(ctx, argv[0], argv[1:]...)
	cmd.Env = runEnv(r.marker, r.scratch.inner(timelineRel))
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second
	// Should the test binary die, ocft goes with it (what it started is
	// in sessions of its own and ends by itself within HangTimeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	r.killed = killMarked(r.marker)
	w.close()
	timeline, _ := os.ReadFile(path)
	if ctx.Err() != nil {
		r.err = fmt.Errorf("killed after %s: %v", time.Since(start).Round(time.Second), ctx.Err())
	} else if err != nil {
		// ocft test exits 1 when a case failed: that is a result.
		if code, exited := proc.ExitCode(err); !exited || code != 1 {
			r.err = fmt.Errorf("%s: %v", strings.Join(argv[:len(r.wrap)+5], " "), err)
		}
	}
	ents, _ := os.ReadDir(r.scratch.casesDir())
	var files []string
	for _, e := range ents {
		files = append(files, e.Name())
	}
	r.results(string(timeline), files)
}

// results reads what a finished run left: its timeline, and the names
// of the files in ocft's cases dir (the .retest files among them).
func (r *run) results(timeline string, caseFiles []string) {
	r.output = ocftLines(timeline)
	r.cases, r.problems = parseTimeline(timeline, r.retests(caseFiles))
	if len(r.cases) == 0 && r.err == nil {
		r.err = fmt.Errorf("ocft listed no cases")
	}
}

// guestScript runs ocft make and ocft test for a config in a guest of
// tests/drbdlab, whose root is an overlay of this machine's: the
// config's name and text are $1 and $2. ocft keeps its state where it
// does here, in /var/lib/resource-agents and in /run/resource-agents
// (HA_RSCTMP, whose .ocft_runlog /tmp/.ocft_runlog points at, as in
// nsScript); the guest is the run's alone, so no namespace is needed.
// The timeline is written in the guest (ocft's lines prefixed, the
// agents' appended as their HA_DEBUGLOG). The script prints the names
// in ocft's cases dir, guestTimelineMark and the timeline, and exits
// with ocft's code.
const guestScript = `set -e
mkdir -p /run/resource-agents /var/lib/resource-agents/ocft/configs
ln -sfn /run/resource-agents/.ocft_runlog /tmp/.ocft_runlog
cd /var/lib/resource-agents/ocft
printf '%s' "$2" >"configs/$1"
tl=/run/ocft-timeline.log
: >$tl
export HA_LOGFACILITY=none HA_DEBUGLOG=$tl
{
	rc=0
	ocft make -d /var/lib/resource-agents/ocft/configs "$1" && ocft test -v "$1" || rc=$?
	echo $rc >/run/ocft-exit
} 2>&1 | sed -u 's/^/` + ocftPrefix + `/' >>$tl
ls cases 2>/dev/null || true
echo ` + guestTimelineMark + `
cat $tl
exit "$(cat /run/ocft-exit)"
`

// guestTimelineMark ends the list of case files in guestScript's output.
const guestTimelineMark = "ocft-timeline:"

// executeIn runs ocft for the run's config, whose text is given, in
// guest g (guestScript) and parses the results.
func (r *run) executeIn(ctx context.Context, g *drbdlab.Guest, text string) {
	start := time.Now()
	out, rc, err := g.Exec(ctx, "set -- "+h.ShellQuote(r.cfg.name, text)+"\n"+guestScript)
	r.elapsed = time.Since(start)
	r.guestResults(g.Name(), out, rc, err)
}

// guestResults reads guestScript's output, exit code and error.
func (r *run) guestResults(guest, out string, rc int, err error) {
	files, timeline, ok := strings.Cut("\n"+out, "\n"+guestTimelineMark+"\n")
	switch {
	case err != nil:
		r.err = err
	case !ok:
		r.err = fmt.Errorf("ocft did not run on %s: exit %d\n%s", guest, rc, out)
	case rc != 0 && rc != 1: // 1: a case failed, a result
		r.err = fmt.Errorf("ocft on %s: exit %d", guest, rc)
	}
	r.results(timeline, strings.Fields(files))
}

// ocftLines returns ocft's own lines of a timeline.
func ocftLines(timeline string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(timeline, "\n") {
		if rest, ok := strings.CutPrefix(l, ocftPrefix); ok {
			b.WriteString(rest)
		}
	}
	return b.String()
}

var retestFile = regexp.MustCompile(`^(\d+)_.*\.retest$`)

// retests returns the cases ocft marked for a retest, those that
// failed, from the names of the files in its cases dir.
func (r *run) retests(caseFiles []string) map[int]bool {
	m := map[int]bool{}
	for _, name := range caseFiles {
		if sm := retestFile.FindStringSubmatch(name); sm != nil && strings.HasSuffix(name, "_"+r.cfg.name+".retest") {
			n, _ := strconv.Atoi(sm[1])
			m[n] = true
		}
	}
	return m
}

// killMarked ends the processes whose environment holds the marker
// (SIGTERM, SIGKILL 2 s later) and returns their PIDs.
func killMarked(marker string) []int {
	want := []byte(markerVar + "=" + marker + "\x00")
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
			continue
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		return nil
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && data[i+2] != 'Z'
}

// libvirtSetup is what the VirtualDomain runs share: one libvirt host,
// each side with a guest of its own.
type libvirtSetup struct {
	host *libvirthost.Host
	img  guestimage.Image
}

var uuidLine = regexp.MustCompile(`(?m)^\s*<uuid>[^<]*</uuid>\n`)

// domainXML writes the guest's domain XML for one side into s and
// returns its path as ocft sees it. The XML has no <uuid>, as domain
// XML written by hand for VirtualDomain often has not: libvirt gives the
// domain one when it is defined. It is not in libvirt's own
// /etc/libvirt/qemu, where the config file ocft ships points: libvirt
// rewrites a file there, uuid included, when it defines the domain.
func (l *libvirtSetup) domainXML(t *testing.T, sd side, s scratch) string {
	t.Helper()
	name := fmt.Sprintf("plocft%d-%s", os.Getpid(), sd.name)
	xml := l.img.DomainXML(guestimage.Domain{Name: name, NoUUID: true})
	if strings.Contains(xml, "<uuid>") {
		t.Fatalf("DomainXML(NoUUID) has a <uuid>:\n%s", xml)
	}
	rel := filepath.Join("ocft", name+".xml")
	if err := os.WriteFile(filepath.Join(s.ra, rel), []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	return s.inner(rel)
}
