//go:build system

package pacemaker3

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
)

// repo is the repository's top directory (the committed metadata).
func repo(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no source path")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// inRoot runs a shell script in the Debian 13 root and fails the test
// when it fails.
func inRoot(t *testing.T, root, script string) string {
	t.Helper()
	out, err := harness.InRoot(t, root, 2*time.Minute, "sh", "-c", script)
	if err != nil {
		t.Fatalf("in the Debian 13 root: %v\n%s\n--- script\n%s", err, out, script)
	}
	return out
}

var ocfAgents = []string{"IPaddr2", "Filesystem", "VirtualDomain", "drbd", "exportfs", "nfsserver"}

// TestMetadataSchemas416 validates every agent's metadata as Pacemaker 3's
// tools see it: the OCF agents' against resource-agents 4.16's DTD and
// RNG schema and pcs 0.12's OCF 1.1 schema (which pcs checks when it
// creates a resource), each as crm_resource of Pacemaker 3 reads it from
// the agent installed in the root, equal to the committed file; the fence
// agents' as stonith_admin reads them, with the port parameter Pacemaker 3
// needs to pass the target as the agent expects.
func TestMetadataSchemas416(t *testing.T) {
	root := harness.TrixieRoot(t)
	dir := t.TempDir() // under /tmp: seen in the root
	var script strings.Builder
	script.WriteString("set -e\ncd /usr/share/resource-agents\n")
	for _, a := range ocfAgents {
		f := filepath.Join(dir, a+".xml")
		fmt.Fprintf(&script, "crm_resource --show-metadata ocf:paceline:%s >%s\n", a, f)
		// The DTD is named relative to the document: read from stdin,
		// it is found in the current directory.
		fmt.Fprintf(&script, "xmllint --noout --valid - <%s\n", f)
		fmt.Fprintf(&script, "xmllint --noout --relaxng metadata.rng %s\n", f)
		fmt.Fprintf(&script, "xmllint --noout --relaxng /usr/share/pcs/data/ocf-1.1.rng %s\n", f)
	}
	fences, _ := filepath.Glob(filepath.Join(repo(t), "metadata", "fence_*.xml"))
	if len(fences) == 0 {
		t.Fatal("no fence agent metadata committed")
	}
	for _, f := range fences {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		fmt.Fprintf(&script, "stonith_admin --metadata --agent %s >%s\n", name, filepath.Join(dir, name+".xml"))
	}
	out := inRoot(t, root, script.String())
	if n := strings.Count(out, "validates"); n != 2*len(ocfAgents) {
		t.Errorf("%d RNG validations passed, want %d:\n%s", n, 2*len(ocfAgents), out)
	}
	for _, a := range append(ocfAgents, names(fences)...) {
		got, err := os.ReadFile(filepath.Join(dir, a+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repo(t), "metadata", a+".xml"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(a, "fence_") {
			if strings.TrimSpace(string(got)) != strings.TrimSpace(string(want)) {
				t.Errorf("%s: the metadata Pacemaker 3 reads from the root differs from metadata/%s.xml", a, a)
			}
			continue
		}
		// stonith_admin indents the agent's XML anew: compare what it
		// says, parameters with their defaults.
		md, committed := parseMeta(t, a, got), parseMeta(t, a, want)
		if fmt.Sprint(md.params) != fmt.Sprint(committed.params) {
			t.Errorf("%s: the parameters Pacemaker 3 reads from the root differ from metadata/%s.xml:\n%v\n%v", a, a, md.params, committed.params)
		}
		if _, ok := md.params["port"]; !ok {
			t.Errorf("%s advertises no port parameter: Pacemaker 3 would pass no target (pcmk_host_argument=none)", a)
		}
	}
}

func names(files []string) []string {
	var n []string
	for _, f := range files {
		n = append(n, strings.TrimSuffix(filepath.Base(f), ".xml"))
	}
	return n
}

// meta is what the parameter checks read of an agent's metadata.
type meta struct {
	params map[string]string // name -> default ("" when none)
}

func parseMeta(t *testing.T, agent string, data []byte) meta {
	t.Helper()
	var doc struct {
		Params []struct {
			Name    string `xml:"name,attr"`
			Content struct {
				Default string `xml:"default,attr"`
			} `xml:"content"`
		} `xml:"parameters>parameter"`
	}
	// Tools may print lines before the XML.
	s := string(data)
	if i := strings.Index(s, "<?xml"); i > 0 {
		s = s[i:]
	} else if i := strings.Index(s, "<resource-agent"); i > 0 {
		s = s[i:]
	}
	if err := xml.Unmarshal([]byte(s), &doc); err != nil {
		t.Fatalf("%s metadata: %v", agent, err)
	}
	m := meta{params: map[string]string{}}
	for _, p := range doc.Params {
		m.params[p.Name] = p.Content.Default
	}
	return m
}

// defaultDiffers are the parameters whose advertised default differs
// from the stock agent's, and why.
var defaultDiffers = map[string]string{
	"VirtualDomain.save_config_on_stop": "4.16 advertises none; its script's default, false, is what paceline advertises",
	"VirtualDomain.sync_config_on_stop": "4.16 advertises none; its script's default, false, is what paceline advertises",
}

// TestStockParameters416: every parameter of resource-agents 4.16's
// IPaddr2, Filesystem, VirtualDomain, exportfs and nfsserver, and of
// fence-agents 4.16's fence_ipmilan, is one of paceline's agent, with the
// same default, and Pacemaker 3 validates paceline's agent given it at
// that default (crm_resource --validate, stonith_admin --validate run the
// agent's validate-all).
func TestStockParameters416(t *testing.T) {
	root := harness.TrixieRoot(t)
	dir := t.TempDir()
	// A config for VirtualDomain's validate-all to read.
	vm := filepath.Join(dir, "vm.xml")
	if err := os.WriteFile(vm, []byte("<domain type='qemu'><name>vm1</name></domain>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		stock, ours, kind string
		base              []string // what validate-all needs
	}{
		{"ocf:heartbeat:IPaddr2", "IPaddr2", "ocf", []string{"ip=127.0.0.2", "nic=lo", "cidr_netmask=8"}},
		{"ocf:heartbeat:Filesystem", "Filesystem", "ocf", []string{"device=/dev/null", "directory=/mnt", "fstype=ext4"}},
		{"ocf:heartbeat:VirtualDomain", "VirtualDomain", "ocf", []string{"config=" + vm}},
		{"ocf:heartbeat:exportfs", "exportfs", "ocf", []string{"directory=" + dir, "clientspec=*", "fsid=1"}},
		// nfsserver requires no parameter: validate-all needs rpc.nfsd and
		// exportfs, which the root's nfs-kernel-server installs.
		{"ocf:heartbeat:nfsserver", "nfsserver", "ocf", nil},
		{"fence_ipmilan", "fence_paceline_ipmilan", "fence", []string{"ip=192.0.2.201", "username=admin", "password=secret"}},
	}
	for _, c := range cases {
		t.Run(c.ours, func(t *testing.T) {
			var stockXML string
			if c.kind == "ocf" {
				stockXML = inRoot(t, root, "crm_resource --show-metadata "+c.stock)
			} else {
				stockXML = inRoot(t, root, "stonith_admin --metadata --agent "+c.stock)
			}
			stock := parseMeta(t, c.stock, []byte(stockXML))
			oursXML, err := os.ReadFile(filepath.Join(repo(t), "metadata", c.ours+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			ours := parseMeta(t, c.ours, oursXML)
			given := map[string]bool{}
			for _, b := range c.base {
				given[strings.SplitN(b, "=", 2)[0]] = true
			}
			var names []string
			for n := range stock.params {
				names = append(names, n)
			}
			sort.Strings(names)
			var script strings.Builder
			for _, n := range names {
				def, ok := ours.params[n]
				if !ok {
					t.Errorf("%s 4.16 has parameter %s; paceline's %s has not", c.stock, n, c.ours)
					continue
				}
				if def != stock.params[n] && defaultDiffers[c.ours+"."+n] == "" {
					t.Errorf("%s: default %q, 4.16's %s has %q", n, def, c.stock, stock.params[n])
				}
				if given[n] || stock.params[n] == "" {
					continue
				}
				args := append(append([]string{}, c.base...), n+"="+stock.params[n])
				fmt.Fprintf(&script, "echo %q; %s\necho \"rc $?\"\n", "PARAM "+n, validateCmd(c.kind, c.ours, args))
			}
			t.Logf("%s 4.16: %d parameters, all in paceline's %s", c.stock, len(names), c.ours)
			if script.Len() == 0 {
				return
			}
			out := inRoot(t, root, script.String())
			checked := 0
			for _, block := range strings.Split(out, "PARAM ")[1:] {
				name := strings.Fields(block)[0]
				checked++
				if !strings.Contains(block, "\nrc 0\n") {
					t.Errorf("Pacemaker 3 does not validate %s with %s at its 4.16 default:\n%s", c.ours, name, block)
				}
			}
			t.Logf("validated %s with each of %d parameters at its 4.16 default", c.ours, checked)
		})
	}
}

// validateCmd is the Pacemaker 3 command that runs an agent's
// validate-all with the name=value arguments.
func validateCmd(kind, agent string, args []string) string {
	var b strings.Builder
	if kind == "ocf" {
		fmt.Fprintf(&b, "crm_resource --validate --class ocf --provider paceline --agent %s", agent)
	} else {
		fmt.Fprintf(&b, "stonith_admin --validate --agent %s", agent)
	}
	for _, a := range args {
		fmt.Fprintf(&b, " --option %q", a)
	}
	return b.String()
}
