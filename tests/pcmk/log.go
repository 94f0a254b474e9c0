package pcmk

import (
	"bufio"
	"io"
	"os"
	"regexp"
	"time"
)

// LogEvent is a line of a node's pacemaker.log.
type LogEvent struct {
	Time time.Time
	Line string
}

// ReadLog returns the lines of the pacemaker.log at path matching re,
// with their times (nil when it cannot be read).
func ReadLog(path string, re *regexp.Regexp) []LogEvent {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return ParseLog(f, re, time.Now())
}

// ParseLog returns the lines of a pacemaker.log matching re, with their
// times. Pacemaker writes local time to the millisecond, without the
// year; the test nodes run with TZ=UTC. Each line gets the year that
// puts it nearest to ref (the time the log is read), so that a line of
// 31 December read on 1 January is last year's.
func ParseLog(f io.Reader, re *regexp.Regexp, ref time.Time) []LogEvent {
	var ev []LogEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	ref = ref.UTC()
	for sc.Scan() {
		line := sc.Text()
		if !re.MatchString(line) || len(line) < 19 {
			continue
		}
		t, err := time.ParseInLocation("Jan _2 15:04:05.000", line[:19], time.UTC)
		if err != nil {
			continue
		}
		ev = append(ev, LogEvent{Time: nearestYear(t, ref), Line: line})
	}
	return ev
}

// nearestYear gives t (parsed without a year, so in year 0) the year,
// of ref's and the two around it, that puts it nearest to ref. A
// 29 February falls on 1 March in a year without one and is skipped.
func nearestYear(t, ref time.Time) time.Time {
	best := time.Time{}
	for _, y := range []int{ref.Year() - 1, ref.Year(), ref.Year() + 1} {
		c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		if c.Month() != t.Month() {
			continue
		}
		if best.IsZero() || c.Sub(ref).Abs() < best.Sub(ref).Abs() {
			best = c
		}
	}
	return best
}

// Since returns the events at or after since (to the millisecond, the
// logs' precision).
func Since(events []LogEvent, since time.Time) []LogEvent {
	since = since.Truncate(time.Millisecond)
	var out []LogEvent
	for _, e := range events {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out
}
