//go:build system

package doccmds_test

import (
	"encoding/xml"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/paceline-ha/paceline/tests/docblocks"
)

// object is what one command should leave in the CIB: a primitive with
// its agent, parameters, meta attributes and operations, a clone or a
// group, or meta attributes and operations added to an existing one.
type object struct {
	id      string
	creates bool   // the command makes it (else it changes it)
	kind    string // "primitive", "clone", "group", or "" when any will do
	class   string
	prov    string
	typ     string
	params  map[string]string
	meta    map[string]string
	ops     []op
	parent  string   // the group or clone it must be in
	members []string // a group's members, in order; a clone's child
}

type op struct{ name, interval, role, timeout string }

func (o op) String() string {
	s := o.name + " interval=" + o.interval
	if o.role != "" {
		s += " role=" + o.role
	}
	return s
}

// expectations returns what a pcs or crm command should leave in the
// CIB, for the commands that create or change resources; others give
// nothing (crm_verify checks the whole CIB at the end).
func expectations(c docblocks.Command) []object {
	words, err := docblocks.Words(c.Text)
	if err != nil || len(words) < 3 {
		return nil
	}
	switch words[0] {
	case "pcs":
		return pcsExpect(words[1:])
	case "crm":
		return crmExpect(words[1:])
	}
	return nil
}

func newObject(id, kind string) object {
	return object{id: id, creates: true, kind: kind, params: map[string]string{}, meta: map[string]string{}}
}

// agentOf splits an agent as commands name it: class:provider:type,
// class:type, or a fence agent's bare name.
func agentOf(o *object, agent string, stonith bool) {
	f := strings.Split(agent, ":")
	switch {
	case len(f) == 3:
		o.class, o.prov, o.typ = f[0], f[1], f[2]
	case len(f) == 2:
		o.class, o.typ = f[0], f[1]
	case stonith:
		o.class, o.typ = "stonith", agent
	default:
		o.typ = agent
	}
}

// pcsWords drops pcs's options (and -f's file) from the command words.
func pcsWords(w []string) (plain []string, group string) {
	for i := 0; i < len(w); i++ {
		switch {
		case w[i] == "-f" || w[i] == "--before" || w[i] == "--after":
			i++
		case w[i] == "--group" && i+1 < len(w):
			group = w[i+1]
			i++
		case strings.HasPrefix(w[i], "--group="):
			group = strings.TrimPrefix(w[i], "--group=")
		case strings.HasPrefix(w[i], "-"):
		default:
			plain = append(plain, w[i])
		}
	}
	return plain, group
}

func pcsExpect(args []string) []object {
	w, group := pcsWords(args)
	if len(w) < 3 {
		return nil
	}
	switch {
	case (w[0] == "resource" || w[0] == "stonith") && w[1] == "create" && len(w) >= 4:
		return pcsCreate(w[2], w[3], w[0] == "stonith", w[4:], group)
	case w[0] == "resource" && w[1] == "group" && w[2] == "add" && len(w) >= 5:
		g := newObject(w[3], "group")
		g.members = w[4:]
		return []object{g}
	case w[0] == "resource" && w[1] == "meta" && len(w) >= 4:
		o := newObject(w[2], "")
		o.creates = false
		for _, kv := range w[3:] {
			if k, v, ok := strings.Cut(kv, "="); ok {
				o.meta[k] = v
			}
		}
		return []object{o}
	case w[0] == "resource" && w[1] == "op" && w[2] == "add" && len(w) >= 5:
		o := newObject(w[3], "primitive")
		o.creates = false
		o.ops = opsOf(w[4:])
		return []object{o}
	}
	return nil
}

// opsOf reads "ACTION name=value... [ACTION name=value...]".
func opsOf(w []string) []op {
	var ops []op
	for _, x := range w {
		k, v, ok := strings.Cut(x, "=")
		switch {
		case !ok:
			ops = append(ops, op{name: x})
		case len(ops) == 0:
		case k == "interval":
			ops[len(ops)-1].interval = v
		case k == "role":
			ops[len(ops)-1].role = v
		case k == "timeout":
			ops[len(ops)-1].timeout = v
		}
	}
	return ops
}

// take files a word of a primitive's definition under the section it
// is in, as pcs and crm both write them: an operation's word, or a
// parameter or meta attribute (name=value; other words there are
// ignored). It reports whether the section was one of those.
func (p *object) take(mode, x string, opWords *[]string) bool {
	k, v, isKV := strings.Cut(x, "=")
	switch {
	case mode == "op":
		*opWords = append(*opWords, x)
	case mode != "params" && mode != "meta":
		return false
	case !isKV:
	case mode == "params":
		p.params[k] = v
	default:
		p.meta[k] = v
	}
	return true
}

func pcsCreate(id, agent string, stonith bool, w []string, group string) []object {
	p := newObject(id, "primitive")
	agentOf(&p, agent, stonith)
	var clone *object
	mode := "params"
	var opWords []string
	for i := 0; i < len(w); i++ {
		x := w[i]
		k, v, isKV := strings.Cut(x, "=")
		switch {
		case x == "op":
			mode = "op"
		case x == "meta" && mode == "clone":
			mode = "clone-meta"
		case x == "meta":
			mode = "meta"
		case x == "clone" || x == "promotable":
			c := newObject(id+"-clone", "clone")
			if i+1 < len(w) && !strings.Contains(w[i+1], "=") && w[i+1] != "meta" {
				c.id = w[i+1]
				i++
			}
			if x == "promotable" {
				c.meta["promotable"] = "true"
			}
			c.members = []string{id}
			clone = &c
			p.parent = c.id
			mode = "clone"
		case (x == "group" || x == "bundle") && i+1 < len(w):
			if x == "group" {
				group = w[i+1]
			}
			i++
			mode = ""
		case p.take(mode, x, &opWords):
		case isKV && (mode == "clone" || mode == "clone-meta"):
			clone.meta[k] = v
		}
	}
	p.ops = opsOf(opWords)
	out := []object{p}
	if clone != nil {
		out = append(out, *clone)
	}
	if group != "" {
		out[0].parent = group
		g := newObject(group, "group")
		out = append(out, g)
	}
	return out
}

func crmExpect(args []string) []object {
	var w []string
	for _, x := range args {
		if !strings.HasPrefix(x, "-") || strings.HasSuffix(x, ":") {
			w = append(w, x)
		}
	}
	if len(w) < 3 || w[0] != "configure" {
		return nil
	}
	id := w[2]
	switch w[1] {
	case "primitive":
		if len(w) < 4 {
			return nil
		}
		p := newObject(id, "primitive")
		agentOf(&p, w[3], false)
		mode := "params"
		var opWords []string
		for _, x := range w[4:] {
			if x == "params" || x == "meta" || x == "op" || x == "utilization" {
				mode = x
				continue
			}
			p.take(mode, x, &opWords)
		}
		p.ops = opsOf(opWords)
		return []object{p}
	case "clone", "ms":
		if len(w) < 4 {
			return nil
		}
		c := newObject(id, "clone")
		if w[1] == "ms" {
			c.kind = "" // a master element under the old schemas
		}
		c.members = []string{w[3]}
		for _, x := range w[4:] {
			if k, v, ok := strings.Cut(x, "="); ok {
				c.meta[k] = v
			}
		}
		return []object{c}
	case "group":
		g := newObject(id, "group")
		for _, x := range w[3:] {
			if x == "meta" || x == "params" || strings.Contains(x, "=") {
				break // the group's own attributes
			}
			g.members = append(g.members, x)
		}
		return []object{g}
	case "location", "colocation", "collocation", "order", "rsc_template", "tag", "ticket":
		return []object{{id: id, creates: true}}
	}
	return nil
}

// node is an element of the CIB.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []*node    `xml:",any"`
	parent  *node
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// nvpairs returns the name=value pairs of a child set (instance_attributes,
// meta_attributes) of n.
func (n *node) nvpairs(set string) map[string]string {
	m := map[string]string{}
	for _, c := range n.Nodes {
		if c.XMLName.Local != set {
			continue
		}
		for _, p := range c.Nodes {
			if p.XMLName.Local == "nvpair" {
				m[p.attr("name")] = p.attr("value")
			}
		}
	}
	return m
}

type cib struct{ byID map[string]*node }

// readCIB reads a CIB file as the tools left it.
func readCIB(path string) (*cib, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top node
	if err := xml.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	c := &cib{byID: map[string]*node{}}
	var walk func(n *node)
	walk = func(n *node) {
		if id := n.attr("id"); id != "" {
			if _, dup := c.byID[id]; !dup {
				c.byID[id] = n
			}
		}
		for _, k := range n.Nodes {
			k.parent = n
			walk(k)
		}
	}
	walk(&top)
	return c, nil
}

// check returns what differs between an object and the CIB.
func (c *cib) check(o object) []string {
	n := c.byID[o.id]
	if n == nil {
		return []string{fmt.Sprintf("no %s %q in the CIB", or(o.kind, "object"), o.id)}
	}
	var bad []string
	if o.kind != "" && n.XMLName.Local != o.kind {
		bad = append(bad, fmt.Sprintf("%q is a %s, not a %s", o.id, n.XMLName.Local, o.kind))
	}
	for _, a := range [][3]string{{"class", o.class, n.attr("class")}, {"provider", o.prov, n.attr("provider")}, {"type", o.typ, n.attr("type")}} {
		if a[1] != "" && a[1] != a[2] {
			bad = append(bad, fmt.Sprintf("%s has %s %q, want %q", o.id, a[0], a[2], a[1]))
		}
	}
	bad = append(bad, differ(o.id, "parameter", o.params, n.nvpairs("instance_attributes"))...)
	bad = append(bad, differ(o.id, "meta attribute", o.meta, n.nvpairs("meta_attributes"))...)
	for _, want := range o.ops {
		if !hasOp(n, want) {
			bad = append(bad, fmt.Sprintf("%s has no operation %s", o.id, want))
		}
	}
	if o.parent != "" && (n.parent == nil || n.parent.attr("id") != o.parent) {
		bad = append(bad, fmt.Sprintf("%s is not in %s", o.id, o.parent))
	}
	var kids []string
	for _, k := range n.Nodes {
		if id := k.attr("id"); id != "" {
			kids = append(kids, id)
		}
	}
	if !inOrder(o.members, kids) {
		bad = append(bad, fmt.Sprintf("%s holds %v, want %v in that order", o.id, kids, o.members))
	}
	return bad
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func differ(id, what string, want, have map[string]string) []string {
	var bad []string
	for k, v := range want {
		if got, ok := have[k]; !ok {
			bad = append(bad, fmt.Sprintf("%s has no %s %s", id, what, k))
		} else if got != v {
			bad = append(bad, fmt.Sprintf("%s has %s %s=%q, want %q", id, what, k, got, v))
		}
	}
	sort.Strings(bad)
	return bad
}

func hasOp(n *node, want op) bool {
	for _, ops := range n.Nodes {
		if ops.XMLName.Local != "operations" {
			continue
		}
		for _, o := range ops.Nodes {
			if o.attr("name") == want.name && o.attr("interval") == want.interval && o.attr("role") == want.role &&
				(want.timeout == "" || o.attr("timeout") == want.timeout) {
				return true
			}
		}
	}
	return false
}

// inOrder reports whether want are all in have, in the same order.
func inOrder(want, have []string) bool {
	k := 0
	for _, h := range have {
		if k < len(want) && h == want[k] {
			k++
		}
	}
	return k == len(want)
}
