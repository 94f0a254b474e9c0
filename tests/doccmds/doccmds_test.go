//go:build system

// The doccmds tier runs every pcs and crm command the documentation shows
// (README.md, docs/*.md and the man pages' worked examples) through the
// real tools: Debian 12's pcs 0.11 and crmsh 4.4 on this machine, Debian
// 13's pcs 0.12 and crmsh 5.0 in the Debian 13 userspace root
// (harness.TrixieRoot). Each fenced code block, or each pcs or crm part
// of an example, is a sequence run in order on a CIB file of its own:
// pcs with -f, crm with CIB_file, so crmsh verifies and commits every
// change as it would to a cluster. A command fails the test when its tool
// fails or warns that its syntax is deprecated; after the sequence the
// CIB must pass crm_verify and hold the resources the commands made, with
// their agents, parameters, meta attributes, operations, clones and
// groups. Commands labelled for some releases of their tool (see
// tests/docblocks) run only where those releases are.
package doccmds_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/docblocks"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// TestMain removes what the harness installed after the tests.
func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

// commandTimeout bounds one pcs or crm run: they are Python programs that
// start in about a second, longer on a loaded machine.
const commandTimeout = 2 * time.Minute

// machine is where one set of the tools runs: this machine, or the
// Debian 13 root.
type machine struct {
	name  string // "Debian 12", "Debian 13"
	root  string // the userspace root, "" for this machine
	home  string // HOME for the tools here (crmsh keeps a cache in it)
	have  []docblocks.Version
	full  map[string]string // the tools' full versions, by label name
	empty string            // the CIB each sequence starts from
}

// command returns a shell running script on the machine, with CIB_file
// naming the CIB.
func (m *machine) command(t testing.TB, ctx context.Context, script, cib string) *proc.Cmd {
	t.Helper()
	var cmd *proc.Cmd
	if m.root == "" {
		cmd = proc.Command(ctx, "sh", "-c", script)
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
			"HOME=" + m.home, "TERM=dumb"}
		cmd.WaitDelay = 2 * time.Second
	} else {
		cmd = harness.RootCommand(t, ctx, m.root, "sh", "-c", script)
	}
	if cib != "" {
		cmd.Env = append(cmd.Env, "CIB_file="+cib)
	}
	// On a timeout, end the tool with the shell: they share a process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// run runs a shell script on the machine and returns its output.
func (m *machine) run(t testing.TB, script, cib string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := m.command(t, ctx, script, cib).CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %v", commandTimeout, err)
	}
	return string(out), err
}

// versionRE finds the version in "pcs --version" (0.11.5) and "crm
// --version" (crm 4.4.0) output.
var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.\d+)*(?:~\w+)?`)

// setUp finds the tools' versions and makes the CIB every sequence starts
// from: cibadmin --empty of the machine's Pacemaker, made into the
// guides' cluster (node1 and node2 online, with quorum), with fencing
// off. The docs assume a cluster with working fencing, but crmsh runs
// crm_verify before each commit and refuses a CIB with resources, no
// fence device and fencing on; the docs' own fence devices turn it back
// on.
func (m *machine) setUp(t *testing.T, dir string) {
	t.Helper()
	m.full = map[string]string{}
	for _, tool := range []struct{ label, cmd string }{{"pcs", "pcs --version"}, {"crmsh", "crm --version"}} {
		out, err := m.run(t, tool.cmd, "")
		v := versionRE.FindStringSubmatch(out)
		harness.Require(t, err == nil && v != nil, "%s on %s: %v %s", tool.cmd, m.name, err, out)
		m.have = append(m.have, docblocks.Version{Tool: tool.label, Release: v[1] + "." + v[2]})
		m.full[tool.label] = v[0]
	}
	m.empty = filepath.Join(dir, "empty.xml")
	script := `set -e
cibadmin --empty >"$CIB_file"
cibadmin --modify --xml-text '<cib have-quorum="1"/>'
for n in 1 2; do
	cibadmin --create -o nodes --xml-text "<node id=\"$n\" uname=\"node$n\"/>"
	cibadmin --create -o status --xml-text "<node_state id=\"$n\" uname=\"node$n\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>"
done
crm_attribute --type crm_config --name stonith-enabled --update false
crm_verify --xml-file "$CIB_file"`
	if out, err := m.run(t, script, m.empty); err != nil {
		t.Fatalf("%s: the empty CIB: %v\n%s", m.name, err, out)
	}
	// The tools read the agents' metadata through crm_resource: every
	// paceline agent, and the stock agents the docs use, must answer.
	for _, a := range []string{"ocf:paceline:IPaddr2", "ocf:paceline:Filesystem", "ocf:paceline:VirtualDomain",
		"ocf:paceline:drbd", "ocf:paceline:exportfs", "ocf:paceline:nfsserver", "stonith:fence_paceline_ipmilan", "ocf:heartbeat:nfsserver", "ocf:heartbeat:exportfs",
		"ocf:heartbeat:apache"} {
		out, err := m.run(t, "crm_resource --show-metadata "+a+" >/dev/null", "")
		harness.Require(t, err == nil, "%s: no metadata for %s (make install; tests/install-deps.sh): %v %s", m.name, a, err, out)
	}
	t.Logf("%s: pcs %s, crmsh %s", m.name, m.full["pcs"], m.full["crmsh"])
}

// versionOf returns the full version of the tool a command runs.
func (m *machine) versionOf(c docblocks.Command) string {
	tool := docblocks.ToolName(c.Program())
	if tool == "" {
		return m.name
	}
	return fmt.Sprintf("%s %s, %s", tool, m.full[tool], m.name)
}

// metadataQueries are the pcs commands that read an agent's metadata and
// take no CIB file (pcs refuses -f with them).
var metadataQueries = regexp.MustCompile(`^pcs\s+(?:resource|stonith)\s+(?:describe|list|agents|providers|standards)\b`)

// pcsOnFile makes every pcs of a script work on the CIB file.
const pcsOnFile = `pcs() { command pcs -f "$CIB_file" "$@"; }` + "\n"

// deprecatedRE finds a tool's deprecation warnings (pcs: "Deprecation
// Warning: ...", crmsh: "WARNING: ... deprecated"): a command whose
// syntax goes away in the next release needs a variant for this one.
var deprecatedRE = regexp.MustCompile(`(?m)^Deprecation Warning:|WARNING:.*(?i:deprecat)`)

// colourRE finds the colour escapes crmsh 4.4 writes even to a pipe.
var colourRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// liveOnly is pcs's refusal of -f for a command that needs a cluster.
const liveOnly = "option '-f' is not supported"

// noiseRE finds what the tools say about the CIB being offline with
// fencing off, left out of the log.
var noiseRE = regexp.MustCompile(`(?m)^.*Blind faith: not fencing unseen nodes\n?`)

// runs reports whether the tier runs a command: pcs and crm, and cibadmin,
// with which a block may change the CIB between them. The others of a
// block (crm_mon, crm_resource --wait, paceline...) look at a live
// cluster or at this machine, not at the CIB file.
func runs(c docblocks.Command) bool { return isTool(c) || c.Program() == "cibadmin" }

// result counts what happened to the commands of one machine: the
// sequences' own, by program; those run again as another's setup apart.
type result struct {
	sync.Mutex
	sequences      int
	passed, failed map[string]int
	notRun, setups int
	ran            map[string]bool // file:line of the commands run
}

func newResult() *result {
	return &result{passed: map[string]int{}, failed: map[string]int{}, ran: map[string]bool{}}
}

// summary tells a machine's counts.
func (r *result) summary(m *machine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d sequences;", m.name, r.sequences)
	for _, p := range []struct{ prog, label string }{{"pcs", "pcs " + m.full["pcs"]}, {"crm", "crmsh " + m.full["crmsh"]}, {"cibadmin", "cibadmin"}} {
		fmt.Fprintf(&b, " %s: %d commands passed, %d failed;", p.label, r.passed[p.prog], r.failed[p.prog])
	}
	fmt.Fprintf(&b, " %d not run (a live cluster's, or not pcs, crm or cibadmin); %d commands run again as setups", r.notRun, r.setups)
	return b.String()
}

func (r *result) add(f func(r *result)) {
	r.Lock()
	defer r.Unlock()
	f(r)
}

// step runs one command of a sequence and reports whether it did what
// the docs say; a command that needs a live cluster is logged and passes.
func (m *machine) step(t *testing.T, c docblocks.Command, cib, setupOf string, res *result) bool {
	t.Helper()
	where := fmt.Sprintf("%s:%d [%s]", c.File, c.Line, m.versionOf(c))
	if setupOf != "" {
		where += " (setup of " + setupOf + ")"
	}
	if !runs(c) {
		t.Logf("%s: not run, not a pcs, crm or cibadmin command: %s", where, c.Text)
		if setupOf == "" {
			res.add(func(r *result) { r.notRun++ })
		}
		return true
	}
	script := c.Raw
	if c.Program() == "pcs" && !metadataQueries.MatchString(c.Text) {
		script = pcsOnFile + script
	}
	out, err := m.run(t, script, cib)
	out = strings.TrimRight(colourRE.ReplaceAllString(out, ""), "\n")
	switch {
	case err != nil && c.Program() == "pcs" && strings.Contains(out, liveOnly):
		t.Logf("%s: not run, needs a live cluster: %s", where, c.Text)
		if setupOf == "" {
			res.add(func(r *result) { r.notRun++; r.ran[fmt.Sprintf("%s:%d", c.File, c.Line)] = true })
		}
		return true
	case err != nil:
		t.Errorf("%s: %v\n\t$ %s\n%s", where, err, c.Text, indent(head(out)))
	case isTool(c) && deprecatedRE.MatchString(out):
		t.Errorf("%s: works, but with syntax this release deprecates; show a variant for it\n\t$ %s\n%s",
			where, c.Text, indent(head(out)))
		err = errors.New("deprecated")
	case strings.TrimSpace(noiseRE.ReplaceAllString(out, "")) != "":
		t.Logf("%s: %s\n%s", where, c.Text, indent(head(noiseRE.ReplaceAllString(out, ""))))
	}
	res.add(func(r *result) {
		r.ran[fmt.Sprintf("%s:%d", c.File, c.Line)] = true
		switch {
		case setupOf != "":
			r.setups++
		case err != nil:
			r.failed[c.Program()]++
		default:
			r.passed[c.Program()]++
		}
	})
	return err == nil
}

// head keeps the first lines of a tool's output (pcs prints its whole
// usage after some errors).
func head(s string) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) <= 40 {
		return s
	}
	return strings.Join(lines[:40], "") + fmt.Sprintf("(%d more lines)", len(lines)-40)
}

func indent(s string) string {
	if s == "" {
		return "\t(no output)"
	}
	return "\t" + strings.ReplaceAll(s, "\n", "\n\t")
}

// runSequence runs one sequence, after the sequences it builds on, on a
// fresh copy of the empty CIB, then checks the CIB.
func (m *machine) runSequence(t *testing.T, s sequence, all []sequence, dir string, res *result) {
	cib := filepath.Join(dir, "cib.xml")
	data, err := os.ReadFile(m.empty)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cib, data, 0o644); err != nil {
		t.Fatal(err)
	}
	pre, err := setups(s, all, m.have)
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, p := range pre {
		t.Logf("%s builds on %s: running that first", s.name, p.name)
		for _, c := range forVersions(p.cmds, m.have) {
			if !m.step(t, c, cib, s.name, res) {
				t.Fatalf("%s builds on %s, which failed", s.name, p.name)
			}
		}
	}
	cmds := forVersions(s.cmds, m.have)
	var wants []object
	for _, c := range cmds {
		if !m.step(t, c, cib, "", res) {
			return // later commands build on this one
		}
		wants = append(wants, expectations(c)...)
	}
	if out, err := m.run(t, `crm_verify --xml-file "$CIB_file"`, cib); err != nil {
		t.Errorf("%s [%s]: the CIB the sequence leaves fails crm_verify: %v\n%s", s.name, m.name, err, indent(out))
	}
	final, err := readCIB(cib)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wants {
		for _, bad := range final.check(w) {
			t.Errorf("%s [%s]: %s", s.name, m.name, bad)
		}
	}
}

// TestDocCommands runs every sequence on each machine.
func TestDocCommands(t *testing.T) {
	all := collect(t)
	for _, s := range all {
		for _, c := range s.cmds {
			if c.Mislabelled() {
				t.Errorf("%s:%d: labelled for %v only, but it is a %s command", c.File, c.Line, c.Only, c.Program())
			}
		}
	}
	scratch, err := os.MkdirTemp("/tmp", "doccmds-") // under /tmp: the root sees it at the same path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(scratch) })

	machines := []*machine{{name: "Debian 12"}, {name: "Debian 13"}}
	results := map[string]*result{}
	t.Run("all", func(t *testing.T) {
		for i, m := range machines {
			res := newResult()
			results[m.name] = res
			t.Run(strings.ReplaceAll(m.name, " ", ""), func(t *testing.T) {
				if i == 0 {
					harness.RequireRoot(t, "pcs", "crm", "cibadmin", "crm_attribute", "crm_resource", "crm_verify")
					err := harness.CheckInstalledAt("/", "")
					harness.Require(t, err == nil, "%v", err)
					m.home = t.TempDir()
				} else {
					m.root = harness.TrixieRoot(t)
				}
				dir := filepath.Join(scratch, strings.ReplaceAll(m.name, " ", ""))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				m.setUp(t, dir)
				for k, s := range all {
					if len(forVersions(s.cmds, m.have)) == 0 || seqHasNoTool(s, m.have) {
						continue
					}
					res.sequences++
					sdir := filepath.Join(dir, fmt.Sprint(k))
					if err := os.Mkdir(sdir, 0o755); err != nil {
						t.Fatal(err)
					}
					t.Run(s.name, func(t *testing.T) {
						t.Parallel()
						m.runSequence(t, s, all, sdir, res)
					})
				}
			})
		}
	})
	for _, m := range machines {
		r := results[m.name]
		if m.full == nil {
			continue
		}
		t.Log(r.summary(m))
	}
	// With both machines run, every labelled command must have run on one:
	// a label naming a release neither has is stale.
	if results["Debian 12"].sequences > 0 && results["Debian 13"].sequences > 0 {
		for _, at := range labelled(all) {
			if !results["Debian 12"].ran[at] && !results["Debian 13"].ran[at] {
				t.Errorf("%s: labelled for releases neither Debian 12 nor Debian 13 has", at)
			}
		}
	}
}

// seqHasNoTool reports whether none of the commands of s meant for these
// releases is a pcs or crm command.
func seqHasNoTool(s sequence, have []docblocks.Version) bool {
	for _, c := range forVersions(s.cmds, have) {
		if isTool(c) {
			return false
		}
	}
	return true
}
