package nscluster

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// monitor reads crm_mon's XML on node i.
func (c *Cluster) monitor(i int) (*pcmk.Mon, error) {
	out, err := c.Exec(i, 10*time.Second, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return nil, fmt.Errorf("%s: crm_mon: %v", NodeName(i), err)
	}
	m, err := pcmk.ParseMon(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", NodeName(i), err)
	}
	return m, nil
}

// Ready reports whether every node runs and sees every node online, a
// DC and quorum.
func (c *Cluster) Ready() error {
	live := c.Live()
	if len(live) < c.Nodes {
		return fmt.Errorf("%d of %d nodes run", len(live), c.Nodes)
	}
	for _, i := range live {
		m, err := c.monitor(i)
		if err != nil {
			return err
		}
		if !m.Summary.DC.Present || !m.Summary.DC.WithQuorum {
			return fmt.Errorf("%s: no DC with quorum yet", NodeName(i))
		}
		if online := m.Online(); online != len(live) {
			return fmt.Errorf("%s: %d nodes online, %d run", NodeName(i), online, len(live))
		}
	}
	return nil
}

// WaitReady waits until Ready.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	if err := proc.Until(timeout, 250*time.Millisecond, c.Ready); err != nil {
		return fmt.Errorf("cluster not ready: %v", err)
	}
	return nil
}

// WaitIdle waits until the cluster has nothing left to do
// (crm_resource --wait on a live node).
func (c *Cluster) WaitIdle(timeout time.Duration) error {
	end := time.Now().Add(timeout)
	err := proc.Until(timeout, time.Second, func() error {
		last := errors.New("no node runs")
		for _, i := range c.informed() {
			out, err := c.Exec(i, time.Until(end)+5*time.Second, "crm_resource", "--wait",
				"--timeout="+strconv.Itoa(int(time.Until(end).Seconds())+1)+"s")
			if err == nil {
				return nil
			}
			last = fmt.Errorf("%s: crm_resource --wait: %v %s", NodeName(i), err, out)
		}
		return last
	})
	if err != nil {
		return fmt.Errorf("cluster not idle: %v", err)
	}
	return nil
}

// informed returns the nodes to ask about the cluster's state: the DC
// when a live node names one that runs, which sees itself as DC with
// quorum (a node that just joined, or one cut off, has a stale view of
// the resources); else every live node.
func (c *Cluster) informed() []int {
	live := c.Live()
	for _, i := range live {
		m, err := c.monitor(i)
		if err != nil || !m.Summary.DC.Present || !m.Summary.DC.WithQuorum {
			continue
		}
		var dc int
		if _, err := fmt.Sscanf(m.Summary.DC.Name, "node%d", &dc); err != nil || !c.Alive(dc) {
			continue
		}
		if dm, err := c.monitor(dc); err == nil && dm.Summary.DC.Name == NodeName(dc) && dm.Summary.DC.WithQuorum {
			return []int{dc}
		}
	}
	return live
}

// Locate returns the nodes rsc runs on, as the DC sees it.
func (c *Cluster) Locate(rsc string) ([]int, error) {
	err := errors.New("no node runs")
	for _, i := range c.informed() {
		var out string
		if out, err = c.Exec(i, 30*time.Second, "crm_resource", "--locate", "--resource", rsc); err != nil {
			// "resource X is NOT running" exits non-zero.
			if strings.Contains(out, "NOT running") {
				return nil, nil
			}
			continue
		}
		var nodes []int
		for _, m := range regexp.MustCompile(`is running on: node(\d+)`).FindAllStringSubmatch(out, -1) {
			n, _ := strconv.Atoi(m[1])
			nodes = append(nodes, n)
		}
		return nodes, nil
	}
	return nil, fmt.Errorf("locate %s: %v", rsc, err)
}

// LocateOne returns the one node rsc runs on.
func (c *Cluster) LocateOne(rsc string) (int, error) {
	nodes, err := c.Locate(rsc)
	if err != nil {
		return 0, err
	}
	if len(nodes) != 1 {
		return 0, fmt.Errorf("%s runs on %v, want one node", rsc, nodes)
	}
	return nodes[0], nil
}

// WaitLocated waits until rsc runs on exactly one node other than not,
// and returns that node.
func (c *Cluster) WaitLocated(rsc string, not int, timeout time.Duration) (int, error) {
	var n int
	err := proc.Until(timeout, 100*time.Millisecond, func() error {
		nodes, err := c.Locate(rsc)
		if err == nil && len(nodes) == 1 && nodes[0] != not {
			n = nodes[0]
			return nil
		}
		return fmt.Errorf("on %v, %v", nodes, err)
	})
	if err != nil {
		return 0, fmt.Errorf("%s not running on another node than %s: %v", rsc, NodeName(not), err)
	}
	return n, nil
}

// Events returns the lines of node i's pacemaker.log matching re, with
// their times.
func (c *Cluster) Events(i int, re *regexp.Regexp) []pcmk.LogEvent {
	return pcmk.ReadLog(c.NodeLog(i), re)
}

// FirstEvent returns the first line of node i's log matching re at or
// after since.
func (c *Cluster) FirstEvent(i int, re *regexp.Regexp, since time.Time) (pcmk.LogEvent, bool) {
	if ev := pcmk.Since(c.Events(i, re), since); len(ev) > 0 {
		return ev[0], true
	}
	return pcmk.LogEvent{}, false
}

// WaitEvent waits for a line matching re, at or after since, in the log
// of one of nodes, and returns the earliest.
func (c *Cluster) WaitEvent(nodes []int, re *regexp.Regexp, since time.Time, timeout time.Duration) (pcmk.LogEvent, error) {
	var first pcmk.LogEvent
	err := proc.Until(timeout, 100*time.Millisecond, func() error {
		found := false
		for _, i := range nodes {
			if e, ok := c.FirstEvent(i, re, since); ok && (!found || e.Time.Before(first.Time)) {
				first, found = e, true
			}
		}
		if !found {
			return fmt.Errorf("no %q in the log of node(s) %v", re, nodes)
		}
		return nil
	})
	return first, err
}

// ResultRE matches the controller's line for the result of op on rsc on
// node i, e.g. ResultRE("start", "vip", 2, "ok"). The result's case is
// ignored: Pacemaker 2.1 writes "ok" and "error", 3.0 "OK" and "Error".
func ResultRE(op, rsc string, i int, result string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`Result of %s operation for %s on %s: (?i:%s)`,
		regexp.QuoteMeta(op), regexp.QuoteMeta(rsc), regexp.QuoteMeta(NodeName(i)), regexp.QuoteMeta(result)))
}

// VIPAnswerer asks for FloatIP by ARP from the client address on the
// switch and returns the node whose eth0 answers; pcmk.Nobody, with an
// error, when none does.
func (c *Cluster) VIPAnswerer() (int, error) {
	out, err := c.Switch(10*time.Second, "arping", "-c", "3", "-w", "5", "-I", "br0", FloatIP)
	macs := map[string]int{}
	for _, i := range c.Live() {
		if mac, err := c.Exec(i, 10*time.Second, "cat", "/sys/class/net/eth0/address"); err == nil {
			macs[strings.ToLower(strings.TrimSpace(mac))] = i
		}
	}
	return pcmk.Answerer(FloatIP, out, err, macs)
}

// Timeline collects, from every node's pacemaker.log and every BMC's
// chassis log, the events at or after since, in time order.
func (c *Cluster) Timeline(since time.Time) []pcmk.TimelineEntry {
	var logs []pcmk.NodeLog
	var power []pcmk.Power
	for i := 1; i <= c.Nodes; i++ {
		logs = append(logs, pcmk.NodeLog{Node: NodeName(i), Events: c.Events(i, pcmk.TimelineLines)})
		if c.BMC {
			for _, e := range c.bmc(i).PowerEvents() {
				power = append(power, pcmk.Power{Node: NodeName(i), At: e.At, On: e.On})
			}
		}
	}
	return pcmk.Timeline(since, logs, power)
}
