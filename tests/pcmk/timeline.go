package pcmk

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"time"
)

// TimelineEntry is one event of a failover, as the logs tell it.
type TimelineEntry struct {
	Time time.Time
	Node string // where it was seen ("node2", "BMC node1")
	What string
}

// NodeLog is the pacemaker.log events of one node (TimelineLines of
// them are enough).
type NodeLog struct {
	Node   string
	Events []LogEvent
}

// Power is a BMC's power change of a node.
type Power struct {
	Node string
	At   time.Time
	On   bool
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

// TimelineLines matches the log lines a timeline looks at.
var TimelineLines = regexp.MustCompile(`notice|warning|error|crit`)

// Timeline tells a failover from the nodes' logs and the BMCs' power
// changes: the events at or after since, in time order. Each log event
// is kept once: from the first node that logs it.
func Timeline(since time.Time, logs []NodeLog, power []Power) []TimelineEntry {
	var tl []TimelineEntry
	seen := map[string]bool{}
	since = since.Truncate(time.Millisecond)
	for _, l := range logs {
		tl = append(tl, timelineOf(l.Node, l.Events, since, seen)...)
	}
	for _, p := range power {
		if p.At.Before(since) {
			continue
		}
		what := "power off: " + p.Node + " dies"
		if p.On {
			what = "power on: " + p.Node + " boots"
		}
		tl = append(tl, TimelineEntry{Time: p.At, Node: "BMC " + p.Node, What: what})
	}
	sort.SliceStable(tl, func(a, b int) bool { return tl[a].Time.Before(tl[b].Time) })
	return tl
}

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
