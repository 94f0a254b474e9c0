//go:build system

package doccmds_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/agents"
	"github.com/paceline-ha/paceline/tests/docblocks"
)

// sequence is one fenced code block of the docs, or the pcs or the crm
// part of one man page example: its commands run in order on one CIB.
type sequence struct {
	name  string // file:line of the block, or of the example's part
	order int    // place among all sequences
	cmds  []docblocks.Command
}

// repoRoot is the top of the source tree, two levels above this file.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// isTool tells whether a command is a pcs or crm command.
func isTool(c docblocks.Command) bool { return docblocks.ToolName(c.Program()) != "" }

// collect returns every sequence with a pcs or crm command: the blocks of
// README.md and docs/*.md, then the man page examples of the registry's
// OCF agents.
func collect(t testing.TB) []sequence {
	t.Helper()
	root := repoRoot(t)
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no docs/*.md under %s: %v", root, err)
	}
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)
	var out []sequence
	add := func(b docblocks.Block) {
		for _, c := range b.Commands {
			if isTool(c) {
				out = append(out, sequence{name: fmt.Sprintf("%s:%d", b.File, b.Line), order: len(out), cmds: b.Commands})
				return
			}
		}
	}
	for _, p := range pages {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		for _, b := range docblocks.Markdown(rel, string(text)) {
			add(b)
		}
	}
	for _, e := range agents.All() {
		if e.Kind != agents.OCF || e.Examples == nil {
			continue
		}
		file, src := exampleSource(root, e)
		at := 0 // the parts appear in the source in order: pcs, then crm
		for i, ex := range e.Examples() {
			for _, part := range []struct{ tool, text string }{{"pcs", ex.PCS}, {"crm", ex.CRM}} {
				line := 0
				if k := strings.Index(src[at:], part.text); k >= 0 && part.text != "" {
					line = 1 + strings.Count(src[:at+k], "\n")
					at += k + len(part.text)
				}
				b := docblocks.Script(file, line, part.text)
				if line == 0 { // not found as written: name the example instead
					b = docblocks.Script(fmt.Sprintf("%s example %d %s", e.Name, i+1, part.tool), 1, part.text)
				}
				add(b)
			}
		}
	}
	return out
}

// exampleSource returns the file that defines an agent's Examples, as a
// path from the top of the tree, and its text.
func exampleSource(root string, e agents.Entry) (string, string) {
	fn := runtime.FuncForPC(reflect.ValueOf(e.Examples).Pointer())
	if fn == nil {
		return e.Name + " examples", ""
	}
	path, _ := fn.FileLine(fn.Entry())
	text, err := os.ReadFile(path)
	if err != nil {
		return e.Name + " examples", ""
	}
	rel, err := filepath.Rel(root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = path
	}
	return filepath.ToSlash(rel), string(text)
}

// forVersions returns the commands of a sequence meant for a machine
// with these releases of the tools.
func forVersions(cmds []docblocks.Command, have []docblocks.Version) []docblocks.Command {
	var out []docblocks.Command
	for _, c := range cmds {
		if c.For(have...) {
			out = append(out, c)
		}
	}
	return out
}

// seqTool is "pcs" or "crm" when every pcs or crm command of the commands
// is of that tool, else "".
func seqTool(cmds []docblocks.Command) string {
	tool := ""
	for _, c := range cmds {
		if !isTool(c) {
			continue
		}
		if tool != "" && tool != c.Program() {
			return ""
		}
		tool = c.Program()
	}
	return tool
}

// xmlIDRE finds the ids in an XML text given to cibadmin.
var xmlIDRE = regexp.MustCompile(`\bid=["']([^"']+)["']`)

// referenced returns the words of a command that may name a resource or
// constraint: its plain words after the first two, with a crm role or
// action (":Promoted", ":start") cut off, and the ids of XML it gives.
func referenced(c docblocks.Command) []string {
	words, err := docblocks.Words(c.Text)
	if err != nil || len(words) < 3 {
		return nil
	}
	var out []string
	for _, w := range words[2:] {
		switch {
		case strings.Contains(w, "<"):
			for _, m := range xmlIDRE.FindAllStringSubmatch(w, -1) {
				out = append(out, m[1])
			}
		case strings.Contains(w, "=") || strings.HasPrefix(w, "-"):
		default:
			if k := strings.IndexByte(w, ':'); k > 0 {
				w = w[:k]
			}
			out = append(out, w)
		}
	}
	return out
}

// createdBy returns the ids a sequence's commands create, each with the
// index of the command that creates it first.
func createdBy(cmds []docblocks.Command) map[string]int {
	ids := map[string]int{}
	for i, c := range cmds {
		for _, o := range expectations(c) {
			if _, ok := ids[o.id]; !ok && o.creates {
				ids[o.id] = i
			}
		}
	}
	return ids
}

// missing returns the ids a sequence uses before it creates them (or
// without creating them) that one of the others creates: the sequence
// builds on another, as a doc's later block builds on an earlier one.
func missing(cmds []docblocks.Command, known map[string]bool) []string {
	made := createdBy(cmds)
	seen := map[string]bool{}
	var out []string
	for i, c := range cmds {
		for _, w := range referenced(c) {
			if at, ok := made[w]; (ok && at <= i) || !known[w] || seen[w] {
				continue
			}
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// setups returns the sequences to run before s so that what it uses
// exists, for a machine with these releases: for each id it lacks, the
// sequence of the same tool that makes the most of the lacking ids and
// nothing s makes itself (the nearest first, then the earliest), after
// that sequence's own setups.
func setups(s sequence, all []sequence, have []docblocks.Version) ([]sequence, error) {
	var out []sequence
	done := map[int]bool{s.order: true}
	var resolve func(s sequence, depth int) error
	resolve = func(s sequence, depth int) error {
		cmds := forVersions(s.cmds, have)
		tool := seqTool(cmds)
		if tool == "" {
			return nil
		}
		type cand struct {
			seq  sequence
			made map[string]int
		}
		var cands []cand
		known := map[string]bool{}
		own := createdBy(cmds)
	next:
		for _, o := range all {
			oc := forVersions(o.cmds, have)
			if o.order == s.order || seqTool(oc) != tool {
				continue
			}
			made := createdBy(oc)
			for id := range made {
				if _, clash := own[id]; clash {
					continue next // it makes what s makes itself
				}
			}
			for id := range made {
				known[id] = true
			}
			cands = append(cands, cand{o, made})
		}
		need := missing(cmds, known)
		if len(need) > 0 && depth > 4 {
			return fmt.Errorf("%s: setups nest too deep for %v", s.name, need)
		}
		for len(need) > 0 {
			best, bestN := -1, 0
			for k, c := range cands {
				n := 0
				for _, id := range need {
					if _, ok := c.made[id]; ok {
						n++
					}
				}
				if n > bestN || (n == bestN && n > 0 && nearness(s, c.seq) > nearness(s, cands[best].seq)) {
					best, bestN = k, n
				}
			}
			if best < 0 {
				return fmt.Errorf("%s: nothing creates %v", s.name, need)
			}
			c := cands[best]
			if !done[c.seq.order] {
				done[c.seq.order] = true
				if err := resolve(c.seq, depth+1); err != nil {
					return err
				}
				out = append(out, c.seq)
			}
			var rest []string
			for _, id := range need {
				if _, ok := c.made[id]; !ok {
					rest = append(rest, id)
				}
			}
			need = rest
		}
		return nil
	}
	err := resolve(s, 0)
	return out, err
}

// nearness ranks a candidate setup o of s: 2 from the same file, 1 of
// the same kind (both docs, or both man page examples), else 0.
func nearness(s, o sequence) int {
	file := func(q sequence) string { return strings.SplitN(q.name, ":", 2)[0] }
	example := func(q sequence) bool { return strings.HasPrefix(q.name, "agents/") }
	switch {
	case file(s) == file(o):
		return 2
	case example(s) == example(o):
		return 1
	}
	return 0
}

// labelled returns the commands of all sequences that a label limits to
// some releases, by file:line.
func labelled(all []sequence) []string {
	var out []string
	for _, s := range all {
		for _, c := range s.cmds {
			if len(c.Only) > 0 && isTool(c) {
				out = append(out, fmt.Sprintf("%s:%d", c.File, c.Line))
			}
		}
	}
	sort.Strings(out)
	return out
}
