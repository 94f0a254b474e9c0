package scenario

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// LiveSwitch is the switch from the stock agents to paceline's on a
// running cluster, as the README tells users to do it: the group svc (fs
// + vip) runs under ocf:heartbeat:*, and both members move to
// ocf:paceline:* without being stopped or started again:
//
//	pcs resource unmanage svc
//	cibadmin --modify --xml-text '<primitive id="fs" class="ocf" provider="paceline" type="Filesystem"/>'
//	cibadmin --modify --xml-text '<primitive id="vip" class="ocf" provider="paceline" type="IPaddr2"/>'
//	pcs resource refresh svc
//	crm_resource --wait; crm_mon -1    (both Started, unmanaged, same node)
//	pcs resource manage svc
//
// A change of agent that Pacemaker finds in a resource's history makes it
// restart the resource ("Forcing restart ... because provider changed");
// the refresh, after the change and while unmanaged, replaces that
// history by the new agent's probe. The control at the end changes the
// agent of a second address without the procedure and checks that the
// same observations do see that restart.
func LiveSwitch(t *testing.T, env Env) {
	env.requireInstalled(t)
	start := time.Now()
	c := env.start(t, false)
	must(t, c.Configure(nscluster.Services{Stock: true, Group: true}, logWriter{t}))
	t.Logf("cluster up and configured with the stock agents in %.1f s", time.Since(start).Seconds())
	v := locate(t, c, "vip")
	if n := locate(t, c, "fs"); n != v {
		t.Fatalf("fs on %s, vip on %s: the group is split", nscluster.NodeName(n), nscluster.NodeName(v))
	}
	if a, err := c.VIPAnswerer(); err != nil || a != v {
		t.Fatalf("before the switch the floating IP answers from node%d (%v), want %s", a, err, nscluster.NodeName(v))
	}
	checkAgents(t, c, v, "heartbeat", true)
	file := filepath.Join(c.SharedDir(), "before-switch")
	exec(t, c, v, "sh", "-c", "echo written under the stock agent >"+file+" && sync")
	// A process working in the filesystem: a stop would kill it
	// (force_unmount) or fail, and a start would not bring it back.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	holder, err := c.Command(ctx, v, "sh", "-c", "cd "+c.SharedDir()+" && exec sleep 600")
	must(t, err)
	must(t, holder.Start())
	held := make(chan struct{})
	go func() { _ = holder.Wait(); close(held) }()
	waitFor(t, time.Minute, "the holder in the mount", func() bool { return holds(c, v) })
	attrsBefore := map[string]string{}
	for _, r := range []string{"fs", "vip"} {
		attrsBefore[r] = primitiveBody(t, c, v, r)
	}
	addrs := watchAddresses(t, c)

	// The procedure, typed on another node than the one running svc.
	u := v%c.Nodes + 1
	user := func(args ...string) string {
		t.Logf("  %s# %s", nscluster.NodeName(u), shellQuote(args))
		return exec(t, c, u, args[0], args[1:]...)
	}
	t0 := time.Now()
	user("pcs", "resource", "unmanage", "svc")
	user("cibadmin", "--modify", "--xml-text", `<primitive id="fs" class="ocf" provider="paceline" type="Filesystem"/>`)
	user("cibadmin", "--modify", "--xml-text", `<primitive id="vip" class="ocf" provider="paceline" type="IPaddr2"/>`)
	tRefresh := time.Now()
	user("pcs", "resource", "refresh", "svc")
	user("crm_resource", "--wait")
	// What the user checks before handing svc back: both members
	// Started by the new agent where they ran, unmanaged, not failed.
	checkAgents(t, c, u, "paceline", false)
	user("pcs", "resource", "manage", "svc")
	must(t, c.WaitIdle(time.Minute))
	tEnd := time.Now()
	t.Logf("switch done in %.1f s", tEnd.Sub(t0).Seconds())
	checkAgents(t, c, u, "paceline", true)

	// Not stopped, not started, not moved: no such operation anywhere,
	// the process in the mount lives on, no change to the address.
	if ops := operations(c, t0, "fs", "vip"); len(ops) > 0 {
		t.Errorf("the switch stopped or started a member of svc:\n%s", strings.Join(ops, "\n"))
	}
	for _, r := range []string{"fs", "vip"} {
		if n := locate(t, c, r); n != v {
			t.Errorf("after the switch %s runs on %s, before on %s", r, nscluster.NodeName(n), nscluster.NodeName(v))
		}
	}
	select {
	case <-held:
		t.Errorf("the process working in %s on %s was ended by the switch", c.SharedDir(), nscluster.NodeName(v))
	default:
		if !holds(c, v) {
			t.Errorf("no process works in %s on %s after the switch", c.SharedDir(), nscluster.NodeName(v))
		}
	}
	if got := exec(t, c, v, "cat", file); got != "written under the stock agent\n" {
		t.Errorf("the file written before the switch reads %q", got)
	}
	if a, err := c.VIPAnswerer(); err != nil || a != v {
		t.Errorf("after the switch the floating IP answers from node%d (%v), want %s", a, err, nscluster.NodeName(v))
	}
	if ev := addrs.events(nscluster.FloatIP, t0); len(ev) > 0 {
		t.Errorf("%s changed during the switch:\n%s", nscluster.FloatIP, strings.Join(ev, "\n"))
	}

	// The CIB: the new agent, every instance attribute and operation as
	// it was; in the status section, the new agent's history on v, with
	// a recurring monitor that returned 0, also in the log.
	for _, r := range []string{"fs", "vip"} {
		p := primitive(t, c, u, r)
		if p.Class != "ocf" || p.Provider != "paceline" {
			t.Errorf("the CIB says %s is %s:%s:%s, want ocf:paceline", r, p.Class, p.Provider, p.Type)
		}
		if body := primitiveBody(t, c, u, r); body != attrsBefore[r] {
			t.Errorf("%s's attributes and operations changed:\nbefore %s\nafter  %s", r, attrsBefore[r], body)
		}
		h := history(t, c, u, v, r)
		if h.Provider != "paceline" {
			t.Errorf("the history of %s on %s is of provider %q, want paceline", r, nscluster.NodeName(v), h.Provider)
		}
		monitored := false
		for _, op := range h.Ops {
			if op.Operation == "monitor" && op.Interval != "0" {
				monitored = true
				if op.RC != "0" {
					t.Errorf("recurring monitor of %s on %s: rc %s, want 0", r, nscluster.NodeName(v), op.RC)
				}
			}
		}
		if !monitored {
			t.Errorf("no recurring monitor of %s on %s in its history: %+v", r, nscluster.NodeName(v), h.Ops)
		}
		if e, ok := c.FirstEvent(v, nscluster.ResultRE("monitor", r, v, "ok"), tRefresh); !ok {
			t.Errorf("no recurring monitor of %s on %s returned ok after the refresh", r, nscluster.NodeName(v))
		} else {
			t.Logf("first monitor of the paceline %s: %.2f s after the switch began", r, e.Time.Sub(t0).Seconds())
		}
	}
	if t.Failed() {
		return
	}

	// Control: without the procedure, the change of agent restarts the
	// resource, and every observation above sees it.
	exec(t, c, u, "pcs", "resource", "create", "vip2", "ocf:heartbeat:IPaddr2", "ip="+nscluster.Net+".101",
		"cidr_netmask=24", "op", "monitor", "interval=10s")
	must(t, c.WaitIdle(time.Minute))
	w := locate(t, c, "vip2")
	t1 := time.Now()
	exec(t, c, u, "cibadmin", "--modify", "--xml-text", `<primitive id="vip2" class="ocf" provider="paceline" type="IPaddr2"/>`)
	must(t, c.WaitIdle(time.Minute))
	ops := operations(c, t1, "vip2")
	stopped, started := false, false
	for _, op := range ops {
		stopped = stopped || nscluster.ResultRE("stop", "vip2", w, "ok").MatchString(op)
		started = started || nscluster.ResultRE("start", "vip2", w, "ok").MatchString(op)
	}
	if !stopped || !started {
		t.Errorf("control: changing the agent of a managed resource did not restart it on %s:\n%s", nscluster.NodeName(w), strings.Join(ops, "\n"))
	}
	why := regexp.MustCompile(`Forcing restart of vip2 on ` + nscluster.NodeName(w) + ` because provider changed`)
	said := false
	for i := 1; i <= c.Nodes; i++ {
		_, ok := c.FirstEvent(i, why, t1)
		said = said || ok
	}
	if !said {
		t.Errorf("control: the scheduler did not say why vip2 restarts")
	}
	if ev := addrs.events(nscluster.Net+".101", t1); len(ev) < 2 {
		t.Errorf("control: the address of vip2 was not removed and added again: %q", ev)
	}
	t.Logf("control: the bare change of agent restarted vip2 on %s (%d operations)", nscluster.NodeName(w), len(ops))
}

// checkAgents checks, from crm_mon on node i, that fs and vip run on one
// node, Started by the agents of provider, managed or not, not failed.
func checkAgents(t *testing.T, c *nscluster.Cluster, i int, provider string, managed bool) {
	t.Helper()
	var mon struct {
		Groups []struct {
			ID        string `xml:"id,attr"`
			Resources []struct {
				ID      string `xml:"id,attr"`
				Agent   string `xml:"resource_agent,attr"`
				Role    string `xml:"role,attr"`
				Managed bool   `xml:"managed,attr"`
				Failed  bool   `xml:"failed,attr"`
				Nodes   []struct {
					Name string `xml:"name,attr"`
				} `xml:"node"`
			} `xml:"resource"`
		} `xml:"resources>group"`
		Failures []struct {
			Op   string `xml:"op_key,attr"`
			Node string `xml:"node,attr"`
		} `xml:"failures>failure"`
	}
	out := exec(t, c, i, "crm_mon", "-1", "--output-as=xml")
	if err := xml.Unmarshal([]byte(out[max(strings.Index(out, "<"), 0):]), &mon); err != nil {
		t.Fatalf("crm_mon: %v\n%s", err, out)
	}
	for _, f := range mon.Failures {
		t.Errorf("crm_mon shows a failed action: %s on %s", f.Op, f.Node)
	}
	on := map[string]bool{}
	seen := 0
	for _, g := range mon.Groups {
		if g.ID != "svc" {
			continue
		}
		for _, r := range g.Resources {
			seen++
			want := "ocf:" + provider + ":" + map[string]string{"fs": "Filesystem", "vip": "IPaddr2"}[r.ID]
			if r.Agent != want || r.Role != "Started" || r.Managed != managed || r.Failed || len(r.Nodes) != 1 {
				t.Errorf("crm_mon: %s is %s, %s, managed %v, failed %v, on %v; want %s, Started, managed %v, on one node",
					r.ID, r.Agent, r.Role, r.Managed, r.Failed, r.Nodes, want, managed)
				continue
			}
			on[r.Nodes[0].Name] = true
		}
	}
	if seen != 2 || len(on) != 1 {
		t.Errorf("crm_mon: svc has %d members on nodes %v, want fs and vip on one node\n%s", seen, on, out)
	}
}

// cibPrimitive is the part of a primitive's CIB entry the test reads.
type cibPrimitive struct {
	ID       string `xml:"id,attr"`
	Class    string `xml:"class,attr"`
	Provider string `xml:"provider,attr"`
	Type     string `xml:"type,attr"`
}

func primitive(t *testing.T, c *nscluster.Cluster, i int, rsc string) cibPrimitive {
	t.Helper()
	out := exec(t, c, i, "cibadmin", "--query", "--xpath", "//primitive[@id='"+rsc+"']")
	var p cibPrimitive
	if err := xml.Unmarshal([]byte(out), &p); err != nil || p.ID != rsc {
		t.Fatalf("cibadmin --query %s: %v\n%s", rsc, err, out)
	}
	return p
}

// primitiveBody is rsc's instance attributes and operations as the CIB
// has them (its meta attributes change with unmanage and manage).
func primitiveBody(t *testing.T, c *nscluster.Cluster, i int, rsc string) string {
	t.Helper()
	var b strings.Builder
	for _, part := range []string{"instance_attributes", "operations"} {
		b.WriteString(exec(t, c, i, "cibadmin", "--query", "--xpath", "//primitive[@id='"+rsc+"']/"+part))
	}
	return b.String()
}

// rscHistory is a resource's operation history on one node (the status
// section), with the agent that ran it.
type rscHistory struct {
	Provider string `xml:"provider,attr"`
	Type     string `xml:"type,attr"`
	Ops      []struct {
		ID        string `xml:"id,attr"`
		Operation string `xml:"operation,attr"`
		Interval  string `xml:"interval,attr"`
		RC        string `xml:"rc-code,attr"`
	} `xml:"lrm_rsc_op"`
}

func history(t *testing.T, c *nscluster.Cluster, i, node int, rsc string) rscHistory {
	t.Helper()
	out := exec(t, c, i, "cibadmin", "--query", "--xpath",
		"//node_state[@uname='"+nscluster.NodeName(node)+"']//lrm_resource[@id='"+rsc+"']")
	var h rscHistory
	if err := xml.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("history of %s on %s: %v\n%s", rsc, nscluster.NodeName(node), err, out)
	}
	return h
}

// operations returns the log lines, on every node, of a start, stop,
// migration, promotion or demotion of one of rscs requested or finished
// at or after since.
func operations(c *nscluster.Cluster, since time.Time, rscs ...string) []string {
	q := make([]string, len(rscs))
	for k, r := range rscs {
		q[k] = regexp.QuoteMeta(r)
	}
	re := regexp.MustCompile(`(Requesting local execution of|Result of) (start|stop|migrate_to|migrate_from|promote|demote) operation for (` +
		strings.Join(q, "|") + `) on `)
	var lines []string
	for i := 1; i <= c.Nodes; i++ {
		for _, e := range c.Events(i, re) {
			if !e.Time.Before(since.Truncate(time.Millisecond)) {
				lines = append(lines, e.Line)
			}
		}
	}
	return lines
}

// holds reports whether a process of node i works in the shared mount.
func holds(c *nscluster.Cluster, i int) bool {
	out, _ := c.Exec(i, 10*time.Second, "sh", "-c", "ls -l /proc/[0-9]*/cwd 2>/dev/null")
	return strings.Contains(out, c.SharedDir())
}

// addressWatch records the address changes of every node (ip monitor)
// from its start to the end of the test.
type addressWatch struct {
	mu    sync.Mutex
	lines []pcmk.LogEvent
}

// nodeLines is ip monitor's output of one node, line by line, with the
// time each line came.
type nodeLines struct {
	w       *addressWatch
	node    int
	partial string
}

func (n *nodeLines) Write(p []byte) (int, error) {
	n.partial += string(p)
	for {
		k := strings.IndexByte(n.partial, '\n')
		if k < 0 {
			return len(p), nil
		}
		n.w.mu.Lock()
		n.w.lines = append(n.w.lines, pcmk.LogEvent{Time: time.Now(), Line: nscluster.NodeName(n.node) + ": " + n.partial[:k]})
		n.w.mu.Unlock()
		n.partial = n.partial[k+1:]
	}
}

// watchAddresses starts ip monitor on every node and returns once each
// has seen a change (an address of its own added to and removed from lo).
func watchAddresses(t *testing.T, c *nscluster.Cluster) *addressWatch {
	t.Helper()
	w := &addressWatch{}
	// The monitors end with their nodes; cancelling ends nsenter.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for i := 1; i <= c.Nodes; i++ {
		// A mark of its own per node: a late line of the node before
		// cannot stand in for this node's monitor.
		mark := fmt.Sprintf("127.0.0.%d", 90+i)
		cmd, err := c.Command(ctx, i, "ip", "-o", "monitor", "address")
		must(t, err)
		cmd.Stdout = &nodeLines{w: w, node: i}
		must(t, cmd.Start())
		go func() { _ = cmd.Wait() }()
		proc.Eventually(t, time.Minute, 50*time.Millisecond, "ip monitor on "+nscluster.NodeName(i)+" seeing a change of address", func() error {
			if len(w.events(mark, time.Time{})) > 0 {
				return nil
			}
			exec(t, c, i, "ip", "addr", "replace", mark+"/8", "dev", "lo")
			exec(t, c, i, "ip", "addr", "del", mark+"/8", "dev", "lo")
			return errors.New("no line yet")
		})
		w.mu.Lock()
		w.lines = nil
		w.mu.Unlock()
	}
	return w
}

// events returns the recorded changes of address ip at or after since.
func (w *addressWatch) events(ip string, since time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ev []string
	for _, e := range w.lines {
		if !e.Time.Before(since) && strings.Contains(e.Line, " "+ip+"/") {
			ev = append(ev, fmt.Sprintf("%s %s", e.Time.Format("15:04:05.000"), e.Line))
		}
	}
	return ev
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for k, a := range args {
		if strings.ContainsAny(a, ` "<>`) {
			a = "'" + a + "'"
		}
		q[k] = a
	}
	return strings.Join(q, " ")
}
