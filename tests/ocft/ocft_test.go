//go:build system

// The ocft tier: resource-agents' own test suite, ocft, run against the
// stock agents (ocf:heartbeat:*) and paceline's (ocf:paceline:*, where
// make install puts them) side by side. Each config is rewritten per side
// (its AgentRoot, its addresses into 192.0.2.0/24, 198.51.100.0/24 and
// fd00::/8) and run in namespaces the tier makes: eth0 and eth1 in a
// network namespace, a loop device for Filesystem, a private libvirtd
// with a tiny TCG guest for VirtualDomain, and ocft's and the agents'
// state in a private mount namespace. paceline must pass every case the
// stock agent passes, but for the differences listed in onPurpose.
// nfsserver needs an NFS server, which this machine does not run: its
// config runs in the DRBD guests of tests/drbdlab (nfsserver_test.go).
package ocft_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

// TestMain is the harness's, as in every tier: TestOCFT builds nothing
// (it runs the agents make install put in place), TestOCFTNFSServer
// runs the harness's paceline (Install) in the guests.
func TestMain(m *testing.M) { os.Exit(h.Main(m)) }

// runTimeout bounds one ocft run; the longest take two to three minutes
// (IPaddr2v6 against the stock agent, on a loaded machine).
const runTimeout = 6 * time.Minute

// TestOCFT runs every config against both sides at once (each run sleeps
// a second per agent call, so they take minutes one after the other and
// cost little CPU together), then compares them config by config in
// subtests. "-run TestOCFT/<config>" runs only the configs it matches.
func TestOCFT(t *testing.T) {
	h.RequireRoot(t, "ocft", "bash", "awk", "ip", "unshare", "mount")
	fs, _ := os.ReadFile("/proc/filesystems")
	h.Require(t, strings.Contains(string(fs), "\toverlay\n"), "needs overlayfs (ocft's state goes to an overlay of /var/lib)")
	if d := filepath.Clean(paceline.root); d == "/tmp" || strings.HasPrefix(d, "/tmp/") {
		t.Fatalf("PACELINE_OCFT_ROOT=%s: the runs cover /tmp, use a dir elsewhere", paceline.root)
	}

	skipped := map[string]string{}
	var runs []*run
	var lv *libvirtSetup
	for _, c := range configs {
		if !wanted(c) {
			continue
		}
		if why := missing(c); why != "" {
			skipped[c.name] = why
			continue
		}
		text, err := readConfig(c)
		if err != nil {
			t.Fatalf("read ocft config: %v", err)
		}
		if c.env == libvirtEnv && lv == nil {
			lv = &libvirtSetup{host: libvirthost.Start(t, 1)[0], img: guestimage.Tiny(t)}
			// The host's /run is its own: give it the dir the runs
			// bind their HA_RSCTMP on.
			if err := os.MkdirAll(filepath.Join(lv.host.Dir, "run", "resource-agents"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, sd := range sides {
			s := newScratch(t)
			o := rewriteOpts{side: sd}
			var wrap []string
			switch c.env {
			case netnsEnv, loopEnv, nfsEnv:
				wrap = []string{"ip", "netns", "exec", newNetns(t)}
				if c.env == loopEnv {
					o.loopDev = newLoop(t, filepath.Join(s.rsctmp, loopImage))
				}
			case libvirtEnv:
				wrap = lv.host.Wrap()
				o.domainXML = lv.domainXML(t, sd, s)
			}
			rewritten, err := rewrite(c, text, o)
			if err != nil {
				t.Fatalf("rewrite(%s, %s) = %v", c.name, sd.name, err)
			}
			if bad := foreignAddresses(rewritten); len(bad) > 0 {
				t.Fatalf("foreignAddresses(rewritten %s for %s) = %q, want none", c.name, sd.name, bad)
			}
			runs = append(runs, newRun(t, c, sd, s, wrap, rewritten))
		}
	}

	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			r.execute(ctx)
		}()
	}
	wg.Wait()
	t.Logf("%d ocft runs took %s", len(runs), time.Since(start).Round(time.Second))

	for _, c := range configs {
		if !wanted(c) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			if why, ok := skipped[c.name]; ok {
				h.Require(t, false, "%s", why)
			}
			var st, pl *run
			for _, r := range runs {
				if r.cfg.name == c.name {
					if r.side == stock {
						st = r
					} else {
						pl = r
					}
				}
			}
			compare(t, c, st, pl)
		})
	}
	t.Logf("ocft: %s", summary(runs))
}

// summary counts the cases of all runs: how many the stock agent
// passes, how many of those paceline passes, and the differences listed
// as on purpose.
func summary(runs []*run) string {
	var total, stockPasses, both, purpose int
	for _, st := range runs {
		if st.side != stock {
			continue
		}
		for _, pl := range runs {
			if pl.side == stock || pl.cfg != st.cfg {
				continue
			}
			for i, sc := range st.cases {
				total++
				if sc.verdict != passed {
					continue
				}
				stockPasses++
				switch {
				case i < len(pl.cases) && pl.cases[i].verdict == passed:
					both++
				case purposeFor(st.cfg.name, sc.name) != "":
					purpose++
				}
			}
		}
	}
	return fmt.Sprintf("%d cases; the stock agents pass %d, paceline passes %d of those, differs on purpose in %d, fails %d",
		total, stockPasses, both, purpose, stockPasses-both-purpose)
}

// missing returns what config c needs that this machine lacks, or "".
func missing(c config) string {
	for _, sd := range sides {
		if _, err := os.Stat(filepath.Join(sd.root, c.agent)); err != nil {
			if sd == paceline {
				return fmt.Sprintf("no %s (run make install)", filepath.Join(sd.root, c.agent))
			}
			return fmt.Sprintf("no %s (resource-agents)", filepath.Join(sd.root, c.agent))
		}
	}
	if _, err := os.Stat(filepath.Join(ocftConfigs, c.name)); err != nil {
		return fmt.Sprintf("no ocft config %s (resource-agents)", c.name)
	}
	var progs []string
	switch c.env {
	case loopEnv:
		progs = []string{"losetup", "mke2fs", "truncate"}
	case libvirtEnv:
		progs = []string{"libvirtd", "virsh", "qemu-system-x86_64", "nsenter", "busybox"}
	case nfsEnv:
		progs = []string{"exportfs"}
	}
	for _, p := range progs {
		if _, err := proc.LookPath(p); err != nil {
			return fmt.Sprintf("needs %s (run tests/install-deps.sh)", p)
		}
	}
	return ""
}

// wanted reports whether -run selects config c's subtest: the part of
// the pattern after the first "/" matches its name (roughly as go test
// matches it), so that the runs of configs not asked for are not made.
func wanted(c config) bool {
	f := flag.Lookup("test.run")
	if f == nil {
		return true
	}
	parts := strings.SplitN(f.Value.String(), "/", 3)
	if len(parts) < 2 || parts[1] == "" {
		return true
	}
	re, err := regexp.Compile(parts[1])
	return err != nil || re.MatchString(c.name)
}

// compare prints the config's table and fails for every case the stock
// agent passes and paceline does not, unless it is listed in onPurpose.
// For a strict config it also fails for every case the stock agent
// fails, and where the sides' codes differ (unless listed).
func compare(t *testing.T, c config, st, pl *run) {
	t.Helper()
	for _, r := range []*run{st, pl} {
		t.Logf("%s against %s: %s, %d cases", c.name, r.side.name, r.elapsed.Round(time.Second), len(r.cases))
		if r.err != nil {
			t.Errorf("ocft %s against %s: %v\n%s", c.name, r.side.name, r.err, tail(ansi.ReplaceAllString(r.output, ""), 30))
		}
		for _, p := range r.problems {
			t.Errorf("ocft %s against %s, outside any case: %s", c.name, r.side.name, p)
		}
		if len(r.killed) > 0 {
			t.Logf("%s against %s: ended processes left behind: %v", c.name, r.side.name, r.killed)
		}
	}
	if len(st.cases) != len(pl.cases) {
		t.Errorf("ocft %s: %d cases against stock, %d against paceline", c.name, len(st.cases), len(pl.cases))
	}

	rows := [][]string{{"#", "case", "stock", "paceline", "note"}}
	var failures []string
	purposeSeen := map[string]bool{}
	for i, sc := range st.cases {
		var pc caseResult
		if i < len(pl.cases) {
			pc = pl.cases[i]
		}
		if pc.name != sc.name {
			t.Errorf("ocft %s case %d: %q against stock, %q against paceline", c.name, i, sc.name, pc.name)
		}
		var notes []string
		reason := purposeFor(c.name, sc.name)
		who := "stock passes, paceline"
		if c.strict() && sc.verdict != passed {
			notes = append(notes, "STOCK FAILS: "+sc.summary)
			failures = append(failures, failureReport(c, sc, "stock", sc))
			who = "paceline"
		}
		switch {
		case sc.verdict != passed && !c.strict():
			notes = append(notes, "stock does not pass: not compared")
		case pc.verdict == passed && reason != "":
			notes = append(notes, "listed as on purpose, but paceline passes")
			t.Errorf("ocft %s case %d %q: paceline passes, but onPurpose says it differs (%s): remove the entry",
				c.name, sc.num, sc.name, reason)
		case pc.verdict == passed:
		case reason != "":
			notes = append(notes, "on purpose: "+reason)
		default:
			notes = append(notes, "PACELINE FAILS: "+pc.summary)
			failures = append(failures, failureReport(c, sc, who, pc))
		}
		if c.strict() && reason == "" && strings.Join(sc.codes, " ") != strings.Join(pc.codes, " ") {
			notes = append(notes, "DISAGREE")
			t.Errorf("ocft %s case %d %q: the stock agent returned %v, paceline %v", c.name, sc.num, sc.name, sc.codes, pc.codes)
		}
		if reason != "" {
			purposeSeen[sc.name] = true
		}
		rows = append(rows, []string{fmt.Sprint(sc.num), sc.name, sc.cell(c.strict()), pc.cell(c.strict()), strings.Join(notes, "; ")})
	}
	t.Logf("ocft %s: %s (stock) beside %s (paceline)\n%s", c.name,
		filepath.Join(st.side.root, c.agent), filepath.Join(pl.side.root, c.agent), table(rows))
	for _, d := range onPurpose {
		if d.config == c.name && !purposeSeen[d.name] {
			t.Errorf("onPurpose names %s case %q, which ocft did not list", d.config, d.name)
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
}

// failureReport describes case sc, which the side who names fails
// ("stock passes, paceline"): fc, that side's result, what ocft printed
// for it, and the exit reason.
func failureReport(c config, sc caseResult, who string, fc caseResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ocft %s case %d %q: %s %s", c.name, sc.num, sc.name, who, fc.verdict)
	if fc.summary != "" {
		fmt.Fprintf(&b, ": %s", fc.summary)
	}
	if fc.step != "" {
		fmt.Fprintf(&b, " (at %s)", fc.step)
	}
	if r := fc.exitReasons(); len(r) > 0 {
		fmt.Fprintf(&b, "\nexit reason: %s", strings.Join(r, "; "))
	}
	if len(fc.detail) > 0 {
		fmt.Fprintf(&b, "\nocft printed:\n%s", strings.Join(fc.detail, "\n"))
	}
	if len(fc.log) > 0 {
		fmt.Fprintf(&b, "\nthe agent's last log lines in the case:\n%s", tail(strings.Join(fc.log, "\n"), 12))
	}
	return b.String()
}

// table renders rows as aligned columns.
func table(rows [][]string) string {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			fmt.Fprintf(&line, "%-*s  ", width[i], cell)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
