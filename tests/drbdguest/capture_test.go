//go:build system && capture

// The capture is a tool for developers, not a test: it builds only with
// the tag "capture" (see pkg/drbd/testdata/84/README.md).

package drbdguest_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
)

// captureCommands are run in each guest in each captured state; the
// output of each goes to <name>.txt (stdout, exactly), <name>.rc (exit
// code) and <name>.stderr (only when not empty). Every command runs
// under "timeout 10" (exit 124: it hung).
var captureCommands = []struct{ name, cmd string }{
	{"events2-now-r0", "drbdsetup events2 --now r0"},
	{"events2-now-all", "drbdsetup events2 --now"},
	{"events2-now-statistics-r0", "drbdsetup events2 --now --statistics r0"},
	{"drbdsetup-84-events2-now-r0", "/lib/drbd/drbdsetup-84 events2 --now r0"},
	{"status-verbose-statistics-r0", "drbdsetup status r0 --verbose --statistics"},
	{"drbdadm-status-r0", "drbdadm status r0"},
	{"sh-status-r0", "drbdsetup sh-status r0"},
	{"proc-drbd", "cat /proc/drbd"},
	{"drbdadm-role-r0", "drbdadm role r0"},
	{"drbdadm-cstate-r0", "drbdadm cstate r0"},
	{"drbdadm-dstate-r0", "drbdadm dstate r0"},
	{"drbdadm-sh-dev-r0", "drbdadm sh-dev r0"},
	{"drbdadm-version", "drbdadm --version"},
	{"drbdadm-dump-r0", "drbdadm dump r0"},
	{"ls-lib-drbd", "ls -l /lib/drbd/"},
}

// captureScript runs the commands into /tmp/cap and prints every file
// as "<name> <size>\n<bytes>".
func captureScript(cmds []struct{ name, cmd string }) string {
	var b strings.Builder
	b.WriteString("rm -rf /tmp/cap; mkdir -p /tmp/cap; cd /tmp/cap\n")
	b.WriteString(`c() { n=$1; shift; timeout 10 "$@" > $n.txt 2> $n.stderr; echo $? > $n.rc; [ -s $n.stderr ] || rm -f $n.stderr; }` + "\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "c %s %s\n", c.name, c.cmd)
	}
	b.WriteString(`for f in *; do printf '%s %d\n' "$f" $(stat -c %s "$f"); cat "$f"; done` + "\n")
	return b.String()
}

// parseCapture splits the output of captureScript into files.
func parseCapture(out string) (map[string][]byte, error) {
	files := map[string][]byte{}
	r := bufio.NewReader(strings.NewReader(out))
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("bad header %q", line)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("bad header %q", line)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("%s: %v", f[0], err)
		}
		files[f[0]] = data
	}
}

type capturer struct {
	t   *testing.T
	p   *drbdlab.Pair
	dir string
}

// state captures every command on both guests (concurrently) into
// dir/<state>/<guest>/.
func (c *capturer) state(state string) {
	c.t.Helper()
	c.run(state, captureCommands, c.p.Guests()...)
}

func (c *capturer) run(state string, cmds []struct{ name, cmd string }, guests ...*drbdlab.Guest) {
	c.t.Helper()
	script := captureScript(cmds)
	outs := make([]string, len(guests))
	errs := make([]error, len(guests))
	done := make(chan int)
	for i, g := range guests {
		go func() {
			out, rc := g.Run(c.t, 3*time.Minute, script)
			if rc != 0 {
				errs[i] = fmt.Errorf("%s: capture exit %d: %s", g.Name(), rc, out)
			}
			outs[i] = out
			done <- i
		}()
	}
	for range guests {
		<-done
	}
	for i, g := range guests {
		if errs[i] != nil {
			c.t.Fatal(errs[i])
		}
		files, err := parseCapture(outs[i])
		if err != nil {
			c.t.Fatalf("%s %s: %v", state, g.Name(), err)
		}
		d := filepath.Join(c.dir, state, g.Name())
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
				c.t.Fatal(err)
			}
		}
		c.t.Logf("captured %s/%s: %d files", state, g.Name(), len(files))
	}
}

// one captures one command on one guest.
func (c *capturer) one(state string, g *drbdlab.Guest, name, cmd string) string {
	c.t.Helper()
	c.run(state, []struct{ name, cmd string }{{name, cmd}}, g)
	rc, _ := os.ReadFile(filepath.Join(c.dir, state, g.Name(), name+".rc"))
	stderr, _ := os.ReadFile(filepath.Join(c.dir, state, g.Name(), name+".stderr"))
	c.t.Logf("%s %s: %s: exit %s%s", state, g.Name(), cmd, strings.TrimSpace(string(rc)), stderr)
	return strings.TrimSpace(string(rc))
}

// TestCapture drives DRBD 8.4 through the states the parsers of
// pkg/drbd must understand and saves what drbdsetup, drbdadm and
// /proc/drbd say in each, under pkg/drbd/testdata/84 (see the README
// there). PACELINE_DRBD_CAPTURE_DIR overrides the output directory.
func TestCapture(t *testing.T) {
	dir := os.Getenv("PACELINE_DRBD_CAPTURE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "pkg", "drbd", "testdata", "84")
	}
	// Replace what an earlier run captured, keep the README.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := drbdlab.StartPair(t, drbdlab.PairSpec{})
	a, b := p.A, p.B
	c := &capturer{t: t, p: p, dir: dir}

	// (1) module loaded, resource configured but not up.
	p.WriteResource(t, "r0", drbdlab.Resource{}.Text())
	c.state("01-module-loaded-resource-down")

	// (2) both Secondary, Connected, UpToDate/UpToDate.
	p.UpConnected(t, "r0")
	c.state("02-connected-secondary-secondary")

	// (3) a Primary, b Secondary; b cannot be promoted too.
	a.MustExec(t, "drbdadm primary r0")
	b.WaitFor(t, 10*time.Second, `[ "$(drbdadm role r0)" = Secondary/Primary ]`)
	c.state("03-connected-primary-secondary")
	c.one("promote-while-peer-primary", b, "drbdadm-primary-r0", "drbdadm primary r0")

	// (4) link cut: both WFConnection, a Primary with the peer DUnknown.
	p.CutLink(t)
	for _, g := range p.Guests() {
		g.WaitFor(t, 20*time.Second, `[ "$(drbdadm cstate r0)" = WFConnection ]`)
	}
	c.state("04-link-cut-primary-wfconnection")

	// (5) b outdated while disconnected; promoting it is refused.
	b.MustExec(t, "drbdadm outdate r0")
	c.state("05-link-cut-peer-outdated")
	c.one("promote-outdated", b, "drbdadm-primary-r0", "drbdadm primary r0")

	// (6) resync in progress: a slow resync rate, data written on a
	// while disconnected, then the link back.
	p.WriteResource(t, "r0", drbdlab.Resource{ResyncRate: "1M"}.Text())
	for _, g := range p.Guests() {
		g.MustExec(t, "drbdadm adjust r0")
	}
	a.MustExec(t, "dd if=/dev/urandom of=/dev/drbd0 bs=1M count=12 oflag=direct 2>&1")
	p.HealLink(t)
	a.WaitFor(t, 20*time.Second, `[ "$(drbdadm cstate r0)" = SyncSource ]`)
	c.state("06-resync-source-target")
	c.one("promote-sync-target", b, "drbdadm-primary-r0", "drbdadm primary r0")
	p.WriteResource(t, "r0", drbdlab.Resource{}.Text())
	for _, g := range p.Guests() {
		g.MustExec(t, "drbdadm adjust r0")
	}
	b.WaitFor(t, 60*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)

	// (7) b detached: Diskless.
	b.MustExec(t, "drbdadm detach r0")
	a.WaitFor(t, 10*time.Second, `[ "$(drbdadm dstate r0)" = UpToDate/Diskless ]`)
	c.state("07-peer-detached-diskless")
	b.MustExec(t, "drbdadm attach r0")
	b.WaitFor(t, 60*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)

	// (8) b disconnected by the administrator: StandAlone.
	b.MustExec(t, "drbdadm disconnect r0")
	a.WaitFor(t, 10*time.Second, `[ "$(drbdadm cstate r0)" = WFConnection ]`)
	c.state("08-peer-standalone")
	b.MustExec(t, "drbdadm connect r0")
	b.WaitFor(t, 30*time.Second, `[ "$(drbdadm cstate r0)/$(drbdadm dstate r0)" = Connected/UpToDate/UpToDate ]`)

	// (9) dual primary.
	p.WriteResource(t, "r0", drbdlab.Resource{TwoPrimaries: true}.Text())
	for _, g := range p.Guests() {
		g.MustExec(t, "drbdadm adjust r0")
	}
	b.MustExec(t, "drbdadm primary r0")
	a.WaitFor(t, 10*time.Second, `[ "$(drbdadm role r0)" = Primary/Primary ]`)
	c.state("09-dual-primary")
}
