package agents

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/tests/docblocks"
)

// The documentation (README.md and docs/*.md) shows pcs and crm commands
// that create paceline resources and fence devices. These tests check
// them against the committed metadata, so that a parameter renamed in an
// agent, or misspelt in the docs, fails here instead of in a cluster.

// docCommandRE finds the commands that create a primitive or a fence
// device; pcs may be given a CIB file with -f.
var docCommandRE = regexp.MustCompile(`\bpcs\s+(?:-f\s+\S+\s+)?(?:resource|stonith)\s+create\s|\bcrm\s+configure\s+primitive\s`)

// docCommands returns the commands of one Markdown text that create a
// primitive, in code blocks and inline in prose (tests/docblocks).
func docCommands(file, text string) []docblocks.Command {
	return docblocks.Find(file, text, docCommandRE)
}

// docAgentName returns the registry name of a paceline agent as a command
// names it (ocf:paceline:IPaddr2, stonith:fence_paceline_ipmilan or
// fence_paceline_ipmilan), or "" for any other agent.
func docAgentName(agent string) string {
	switch {
	case strings.HasPrefix(agent, "ocf:"+Provider+":"):
		return strings.TrimPrefix(agent, "ocf:"+Provider+":")
	case strings.HasPrefix(agent, "stonith:fence_paceline_"):
		return strings.TrimPrefix(agent, "stonith:")
	case strings.HasPrefix(agent, "fence_paceline_"):
		return agent
	}
	return ""
}

// docParams reads the parameter names and required parameters of an
// agent's committed metadata.
func docParams(e Entry) (names map[string]bool, required []string, err error) {
	var doc struct {
		Parameters []struct {
			Name     string `xml:"name,attr"`
			Required string `xml:"required,attr"`
		} `xml:"parameters>parameter"`
	}
	if err := xml.Unmarshal(e.Metadata(), &doc); err != nil {
		return nil, nil, fmt.Errorf("metadata of %s: %v", e.Name, err)
	}
	names = map[string]bool{}
	for _, p := range doc.Parameters {
		names[p.Name] = true
		if p.Required == "1" && p.Name != "action" { // a fence device's action comes from the fencer
			required = append(required, p.Name)
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("metadata of %s lists no parameters", e.Name)
	}
	return names, required, nil
}

// docEndOfParams are the words after which a command gives no more
// instance parameters.
var docEndOfParams = map[string]bool{
	"op": true, "meta": true, "promotable": true, "clone": true, "bundle": true, "utilization": true,
	"group": true, // pcs 0.12 --future
}

// checkDocCommand checks one command. It returns the paceline agent the
// command uses ("" for a stock agent) and what is wrong with it.
func checkDocCommand(c docblocks.Command) (agent string, problems []string) {
	words, err := docblocks.Words(c.Text)
	if err != nil {
		return "", []string{err.Error()}
	}
	// pcs [-f FILE] resource|stonith create [--future] ID AGENT ...;
	// crm configure primitive ID AGENT ...
	i := 0
	if words[0] == "pcs" && len(words) > 1 && words[1] == "-f" {
		i = 2
	}
	i += 3 // the command words
	for i < len(words) && strings.HasPrefix(words[i], "--") {
		i++ // pcs options before the id
	}
	if len(words) < i+2 {
		return "", []string{"no resource id and agent"}
	}
	agent = docAgentName(words[i+1])
	if agent == "" {
		return "", nil
	}
	e, ok := Lookup(agent)
	if !ok {
		return agent, []string{fmt.Sprintf("agent %s is not in the registry", agent)}
	}
	names, required, err := docParams(e)
	if err != nil {
		return agent, []string{err.Error()}
	}
	given := map[string]bool{}
	for _, w := range words[i+2:] {
		if docEndOfParams[w] || strings.HasPrefix(w, "--") {
			break
		}
		if w == "params" && words[0] == "crm" {
			continue
		}
		name, _, ok := strings.Cut(w, "=")
		if !ok || name == "" {
			problems = append(problems, fmt.Sprintf("%q is not name=value", w))
			continue
		}
		given[name] = true
		if names[name] || (e.Kind == Fence && strings.HasPrefix(name, "pcmk_")) {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s has no parameter %q", agent, name))
	}
	for _, r := range required {
		if !given[r] {
			problems = append(problems, fmt.Sprintf("required parameter %s of %s is missing", r, agent))
		}
	}
	return agent, problems
}

func docFiles(t *testing.T) map[string]string {
	t.Helper()
	paths := []string{filepath.Join("..", "README.md")}
	more, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(more) == 0 {
		t.Fatal("no docs/*.md")
	}
	paths = append(paths, more...)
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = string(b)
	}
	return files
}

// TestDocsCommands checks every pcs and crm command of the docs that uses
// a paceline agent: its parameters must be the agent's, and its required
// parameters given. Every OCF agent and the fence agent must be shown.
func TestDocsCommands(t *testing.T) {
	shown := map[string]int{}
	for path, text := range docFiles(t) {
		for _, c := range docCommands(path, text) {
			agent, problems := checkDocCommand(c)
			if agent != "" {
				shown[agent]++
			}
			for _, p := range problems {
				t.Errorf("%s:%d: %s\n\t%s", c.File, c.Line, p, c.Text)
			}
		}
	}
	for _, e := range All() {
		if (e.Kind == OCF || e.Name == "fence_paceline_ipmilan") && shown[e.Name] == 0 {
			t.Errorf("no pcs or crm command in the docs creates %s", e.Name)
		}
	}
	t.Logf("paceline commands checked per agent: %v", shown)
}

// TestDocsCheckerCatchesMistakes makes sure the checker above would see a
// misspelt or missing parameter, so that TestDocsCommands passing means
// something.
func TestDocsCheckerCatchesMistakes(t *testing.T) {
	text := "```\n" +
		"pcs resource create vip ocf:paceline:IPaddr2 ip=192.0.2.100 cidr_netmsk=24 \\\n" +
		"    op monitor interval=10s\n" +
		"crm configure primitive fs ocf:paceline:Filesystem \\\n" +
		"    params device=/dev/sdb1 directory=/srv fstyp=ext4\n" +
		"pcs stonith create f1 fence_paceline_ipmilan ip=192.0.2.11 usernme=admin pcmk_host_list=node1\n" +
		"pcs resource create ok ocf:paceline:IPaddr2 ip=192.0.2.100 cidr_netmask=24 op monitor interval=10s\n" +
		"pcs resource create web ocf:heartbeat:apache bogus=1\n" +
		"```\n"
	cmds := docCommands("inline", text)
	if len(cmds) != 5 {
		t.Fatalf("docCommands found %d commands, want 5: %+v", len(cmds), cmds)
	}
	want := [][]string{
		{`IPaddr2 has no parameter "cidr_netmsk"`},
		{`Filesystem has no parameter "fstyp"`, `required parameter fstype of Filesystem is missing`},
		{`fence_paceline_ipmilan has no parameter "usernme"`},
		nil,
		nil,
	}
	for i, c := range cmds {
		_, problems := checkDocCommand(c)
		got := strings.Join(problems, "; ")
		for _, w := range want[i] {
			if !strings.Contains(got, w) {
				t.Errorf("checkDocCommand(%q) = %q, want it to contain %q", c.Text, got, w)
			}
		}
		if want[i] == nil && len(problems) > 0 {
			t.Errorf("checkDocCommand(%q) = %q, want no problem", c.Text, got)
		}
	}
}

// TestDocsPages checks that docs/README.md links only to pages that
// exist, and that every agent of the registry has a page linked from it
// (the fence agent's aliases are on the fence agent's page).
func TestDocsPages(t *testing.T) {
	dir := filepath.Join("..", "docs")
	index, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	linked := map[string]bool{}
	for _, m := range regexp.MustCompile(`\]\((?:\./)?([^)#/:]+\.md)(?:#[^)]*)?\)`).FindAllStringSubmatch(string(index), -1) {
		linked[m[1]] = true
		if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
			t.Errorf("docs/README.md links to %s, which does not exist", m[1])
		}
	}
	var missing []string
	for _, e := range All() {
		page := e.Name + ".md"
		if e.Kind == Fence {
			page = "fence_paceline_ipmilan.md"
		}
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			missing = append(missing, page)
			continue
		}
		if !linked[page] {
			t.Errorf("docs/README.md does not link to %s", page)
		}
		if !strings.Contains(string(b), e.Name) {
			t.Errorf("docs/%s does not mention %s", page, e.Name)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("docs/%s is missing", m)
	}
}

// TestManExamples applies the same check to the worked examples of the
// man pages (each OCF agent's Examples): every agent has some, each shows
// pcs and crm, and each command uses the agent's own parameters.
func TestManExamples(t *testing.T) {
	for _, e := range All() {
		if e.Kind != OCF {
			continue
		}
		if e.Examples == nil || len(e.Examples()) == 0 {
			t.Errorf("%s: no man page examples", e.Name)
			continue
		}
		for i, ex := range e.Examples() {
			if ex.Title == "" || ex.PCS == "" || ex.CRM == "" {
				t.Errorf("%s example %d: title, pcs and crm are all needed: %+v", e.Name, i, ex)
			}
			n := 0
			for _, c := range docCommands(e.Name+" example", ex.PCS+"\n"+ex.CRM) {
				_, problems := checkDocCommand(c)
				n++
				for _, p := range problems {
					t.Errorf("%s example %q: %s\n\t%s", e.Name, ex.Title, p, c.Text)
				}
			}
			if n == 0 && !strings.Contains(ex.PCS, "pcs resource op add") {
				t.Errorf("%s example %q creates no resource", e.Name, ex.Title)
			}
		}
	}
}
