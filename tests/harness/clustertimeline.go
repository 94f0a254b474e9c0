package harness

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// TimelineEntry is one event of a failover, as the logs tell it.
type TimelineEntry struct {
	Time time.Time
	Node string // where it was seen ("node2", "BMC node1")
	What string
}

// timelineRules turn interesting lines of pacemaker.log into short
// descriptions; $1... are the regexp's groups.
var timelineRules = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`Node ([\w-]+) state is now lost`), "membership: $1 lost"},
	// Pacemaker 2.1: "of node X", 3.0: "targeting node X".
	{regexp.MustCompile(`pacemaker-controld.*Requesting fencing \((\w+)\) (?:of|targeting) node ([\w-]+)`), "fencing ($1) of $2 requested"},
	{regexp.MustCompile(`Requesting that ([\w-]+) perform '(\w+)' action targeting ([\w-]+)`), "$1 asked to $2 $3"},
	{regexp.MustCompile(`pacemaker-controld.*Peer ([\w-]+) was terminated \((\w+)\) by ([\w-]+).*: OK`), "fencing of $1 ($2, by $3) confirmed"},
	{regexp.MustCompile(`Initiating (promote|demote) operation ([\w-]+?)_(?:promote|demote)_0 (?:locally )?on ([\w-]+)`), "$1 $2 on $3 begins"},
	{regexp.MustCompile(`Result of (start|stop|promote|demote|migrate_to|migrate_from) operation for ([\w-]+) on ([\w-]+): ((?i:ok|error).*?)( \||$)`), "$1 $2 on $3: $4"},
	{regexp.MustCompile(`pacemaker-controld.*Node ([\w-]+) state is now member`), "membership: $1 joined"},
	{regexp.MustCompile(`Quorum lost`), "quorum lost"},
}

// Timeline collects, from every node's pacemaker.log and every BMC's
// chassis log, the events at or after since, in time order. Each event
// is kept once: the first node to log it.
func (c *Cluster) Timeline(since time.Time) []TimelineEntry {
	var tl []TimelineEntry
	seen := map[string]bool{}
	since = since.Truncate(time.Millisecond)
	for i := 1; i <= c.Nodes; i++ {
		tl = append(tl, timelineOf(NodeName(i), c.Events(i, timelineLines), since, seen)...)
	}
	for i := 1; c.BMC && i <= c.Nodes; i++ {
		f, err := os.Open(filepath.Join(c.bmcDir(i), "chassis.log"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// "<unix time> 0x20 set power 0|1"
			fields := strings.Fields(sc.Text())
			if len(fields) != 5 || fields[2] != "set" || fields[3] != "power" {
				continue
			}
			sec, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				continue
			}
			t := time.Unix(0, int64(sec*1e9))
			if t.Before(since) {
				continue
			}
			what := map[string]string{"0": "power off: " + NodeName(i) + " dies", "1": "power on: " + NodeName(i) + " boots"}[fields[4]]
			tl = append(tl, TimelineEntry{Time: t, Node: "BMC " + NodeName(i), What: what})
		}
		f.Close()
	}
	sort.SliceStable(tl, func(a, b int) bool { return tl[a].Time.Before(tl[b].Time) })
	return tl
}

// timelineLines are the log lines timelineOf looks at.
var timelineLines = regexp.MustCompile(`notice|warning|error|crit`)

// timelineOf turns one node's log events at or after since into
// timeline entries, skipping what seen already holds (and adding to it).
func timelineOf(node string, events []LogEvent, since time.Time, seen map[string]bool) []TimelineEntry {
	var tl []TimelineEntry
	for _, e := range events {
		if e.Time.Before(since) {
			continue
		}
		for _, r := range timelineRules {
			m := r.re.FindStringSubmatchIndex(e.Line)
			if m == nil {
				continue
			}
			what := string(r.re.ExpandString(nil, r.what, e.Line, m))
			if !seen[what] {
				seen[what] = true
				tl = append(tl, TimelineEntry{Time: e.Time, Node: node, What: what})
			}
			break
		}
	}
	return tl
}

// PrintTimeline writes tl with times relative to t0.
func PrintTimeline(w io.Writer, t0 time.Time, tl []TimelineEntry) {
	for _, e := range tl {
		fmt.Fprintf(w, "  %s  %+7.2f s  %-10s %s\n", e.Time.Format("15:04:05.000"), e.Time.Sub(t0).Seconds(), e.Node, e.What)
	}
}
