//go:build system

package ocft_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// verdict is what ocft made of one case.
type verdict int

const (
	notRun verdict = iota // ocft never started it (a setup failure, a broken run)
	passed
	failed
)

func (v verdict) String() string {
	switch v {
	case passed:
		return "pass"
	case failed:
		return "FAIL"
	}
	return "not run"
}

// caseResult is one case of one run.
type caseResult struct {
	num     int
	name    string
	verdict verdict
	summary string   // failed: what went wrong, in one line
	step    string   // failed: the step ocft was at ("./IPaddr2 monitor")
	codes   []string // the return values ocft checked, in order (the wrong one included)
	detail  []string // failed: ocft's lines from the failure on (the agent's output)
	log     []string // the agents' log lines written while the case ran
}

// cell is the case's verdict in a table, with the codes ocft checked
// when asked.
func (c caseResult) cell(codes bool) string {
	if !codes || len(c.codes) == 0 {
		return c.verdict.String()
	}
	return c.verdict.String() + " (" + strings.Join(c.codes, ", ") + ")"
}

// exitReasons returns the exit reasons in the failure's detail (ocft
// shows the agent's output only for a wrong exit code), else the errors
// the agents logged during the case: both agents log their exit reason
// as an error too.
func (c caseResult) exitReasons() []string {
	var out []string
	for _, l := range c.detail {
		if i := strings.Index(l, "ocf-exit-reason:"); i >= 0 {
			out = append(out, strings.TrimSpace(l[i+len("ocf-exit-reason:"):]))
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, l := range c.log {
		if i := strings.Index(l, "ERROR: "); i >= 0 {
			out = append(out, strings.TrimSpace(l[i+len("ERROR: "):]))
		}
	}
	return out
}

// ocftPrefix marks ocft's own lines in a run's timeline; the other lines
// are the agents' log lines (HA_DEBUGLOG), in the order both were
// written.
const ocftPrefix = "ocft| "

var (
	ansi        = regexp.MustCompile("\x1b\\[[0-9;]*m")
	madeCase    = regexp.MustCompile(`^\s*- case (\d+): (.*)$`)
	startedCase = regexp.MustCompile(`^Starting '[^']*' case (\d+) '(.*)':$`)
	wrongValue  = regexp.MustCompile(`FAILED\. The return value '([^']*)' != '([^']*)'`)
	returned    = regexp.MustCompile(`The return value '([^']*)'`)
	stepLine    = regexp.MustCompile(`^(?:Running agent|Setting system environment):\s+(.*)$`)
)

// parseTimeline reads a run's timeline: the output of "ocft make" and
// "ocft test -v" for one config (the lines with ocftPrefix) and the
// agents' log lines between them. It returns the cases "make" listed,
// each with the verdict of its section of "test" (a "FAILED." check or
// an "ERROR:" from ocft) and of the .retest file ocft leaves for a
// failed case (retest, by case number), with the return values ocft
// checked in it, and with the agents' lines written during its section
// (a line written just as a case ends can land in the next one's).
// problems are failures outside any case: setup or cleanup.
func parseTimeline(timeline string, retest map[int]bool) (cases []caseResult, problems []string) {
	index := map[int]int{}
	cur := -1 // index of the case whose section we are in
	inCleanup := false
	for _, line := range strings.Split(ansi.ReplaceAllString(timeline, ""), "\n") {
		line = strings.TrimRight(line, "\r")
		var isOCFT bool
		if line, isOCFT = strings.CutPrefix(line, ocftPrefix); !isOCFT {
			if cur >= 0 && line != "" {
				cases[cur].log = append(cases[cur].log, line)
			}
			continue
		}
		if m := madeCase.FindStringSubmatch(line); m != nil && cur < 0 && !inCleanup {
			n, _ := strconv.Atoi(m[1])
			index[n] = len(cases)
			cases = append(cases, caseResult{num: n, name: m[2]})
			continue
		}
		if m := startedCase.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			i, ok := index[n]
			if !ok {
				problems = append(problems, "ocft ran case "+m[1]+" which make did not list: "+m[2])
				cur = -1
				continue
			}
			cur = i
			cases[i].verdict = passed
			continue
		}
		if strings.HasPrefix(line, "Cleaning '") {
			cur, inCleanup = -1, true
			continue
		}
		if cur < 0 {
			if strings.HasPrefix(line, "ERROR:") || strings.HasPrefix(line, "WARNING:") {
				problems = append(problems, line)
			}
			continue
		}
		c := &cases[cur]
		if c.verdict == failed {
			c.detail = append(c.detail, line)
			continue
		}
		if m := stepLine.FindStringSubmatch(line); m != nil {
			c.step = m[1]
		}
		if m := returned.FindStringSubmatch(line); m != nil {
			c.codes = append(c.codes, m[1])
		}
		switch {
		case strings.Contains(line, "FAILED."):
			c.verdict = failed
			c.summary = "ocft: " + strings.TrimSpace(line[strings.Index(line, "FAILED."):])
			if m := wrongValue.FindStringSubmatch(line); m != nil {
				c.summary = "returned " + m[1] + ", want " + m[2]
			}
			c.detail = append(c.detail, line)
		case strings.HasPrefix(line, "ERROR:"):
			c.verdict = failed
			c.summary = "ocft: " + strings.TrimSpace(strings.TrimPrefix(line, "ERROR:"))
			c.detail = append(c.detail, line)
		case strings.HasPrefix(line, "WARNING:"):
			// "core function failed": ocft gave up on the config.
			problems = append(problems, line)
			cur = -1
		}
	}
	for i := range cases {
		c := &cases[i]
		if retest[c.num] && c.verdict != failed {
			c.verdict = failed
			if c.summary == "" {
				c.summary = "ocft marked it for retest"
			}
		}
		c.detail = trimDetail(c.detail)
	}
	return cases, problems
}

// trimDetail drops the blank lines that end a case's section.
func trimDetail(d []string) []string {
	for len(d) > 0 && strings.TrimSpace(d[len(d)-1]) == "" {
		d = d[:len(d)-1]
	}
	return d
}

// TestParseTimeline checks the parser on output shaped like ocft's: a
// pass, a wrong exit code with the agent's output after it, a failed
// step, a case never run.
func TestParseTimeline(t *testing.T) {
	lines := []string{
		"Making 'X': ",
		"    - case 0: first",
		"    - case 1: second: 'quoted'",
		"    - case 2: third",
		"    - case 3: fourth",
		"Initializing 'A' ...",
		"Done.",
		"",
		"Starting '\x1b[33mX\x1b[0m' case 0 '\x1b[33mfirst\x1b[0m':",
		"Running agent:                ./A start",
		"Checking return value:        \x1b[32mOK\x1b[0m. The return value 'OCF_SUCCESS' == 'OCF_SUCCESS'",
		"",
		"Starting 'X' case 1 'second: 'quoted'':",
		"Running agent:                ./A monitor",
		"Checking return value:        \x1b[31mFAILED\x1b[0m. The return value 'OCF_NOT_RUNNING' != 'OCF_ERR_GENERIC'. See details below:",
		"ocf-exit-reason:interface gone",
		"",
		"Starting 'X' case 2 'third':",
		"Running agent:                ./A stop",
		"ERROR: './A stop' failed, the return code is 1.",
		"",
		"Cleaning 'A' ...",
		"Done.",
	}
	var timeline strings.Builder
	for _, l := range lines {
		timeline.WriteString(ocftPrefix + l + "\n")
		if strings.HasPrefix(l, "Running agent:                ./A stop") {
			timeline.WriteString("A(ocft)[12]:\tERROR: no stopping today\n")
		}
	}
	cases, problems := parseTimeline(timeline.String(), map[int]bool{1: true, 2: true})
	if len(problems) != 0 {
		t.Errorf("parseTimeline problems = %q, want none", problems)
	}
	want := []struct {
		name    string
		v       verdict
		summary string
		step    string
	}{
		{"first", passed, "", "./A start"},
		{"second: 'quoted'", failed, "returned OCF_NOT_RUNNING, want OCF_ERR_GENERIC", "./A monitor"},
		{"third", failed, "ocft: './A stop' failed, the return code is 1.", "./A stop"},
		{"fourth", notRun, "", ""},
	}
	if len(cases) != len(want) {
		t.Fatalf("parseTimeline gave %d cases, want %d: %+v", len(cases), len(want), cases)
	}
	for i, w := range want {
		c := cases[i]
		if c.num != i || c.name != w.name || c.verdict != w.v || c.summary != w.summary || c.step != w.step {
			t.Errorf("case %d = {%d %q %v %q %q}, want {%d %q %v %q %q}",
				i, c.num, c.name, c.verdict, c.summary, c.step, i, w.name, w.v, w.summary, w.step)
		}
	}
	if r := cases[1].exitReasons(); len(r) != 1 || r[0] != "interface gone" {
		t.Errorf("case 1 exitReasons() = %q, want [interface gone]", r)
	}
	if r := cases[2].exitReasons(); len(r) != 1 || r[0] != "no stopping today" {
		t.Errorf("case 2 exitReasons() = %q, want [no stopping today]", r)
	}
}
