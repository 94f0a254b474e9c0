package pcmk

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Lines as Pacemaker 2.1 writes them, from a guest of the DRBD cluster.
const sampleLog = `Nov 24 12:25:58.872 guest-a pacemaker-attrd     [195] (update_peer_state_iter) 	notice: Node guest-b state is now lost | nodeid=2
Nov 24 12:26:03.812 guest-a pacemaker-controld  [197] (te_fence_node) 	notice: Requesting fencing (reboot) of node guest-b | action=1
Nov 24 12:26:09.052 guest-a pacemaker-controld  [197] (tengine_stonith_callback) 	notice: Peer guest-b was terminated (reboot) by guest-a on behalf of pacemaker-controld.197: OK | event=1
Nov 24 12:26:10.100 guest-a pacemaker-controld  [197] (execute_rsc_action) 	notice: Initiating promote operation drbd_r0_promote_0 locally on guest-a | action 12
Nov 24 12:26:18.704 guest-a pacemaker-controld  [197] (log_executor_event) 	notice: Result of promote operation for drbd_r0 on guest-a: ok | graph action confirmed
Nov 24 12:26:19.000 guest-a pacemaker-controld  [197] (log_executor_event) 	notice: Result of promote operation for drbd_r0 on guest-a: ok | graph action confirmed
Nov 24 12:26:21.040 guest-a pacemaker-controld  [197] (log_executor_event) 	notice: Result of start operation for fs on guest-a: error (Generic) | call=9
Nov 24 12:26:22.400 guest-a pacemaker-controld  [197] (controld_execute_fence_action) 	notice: Requesting fencing (off) targeting node guest-c | action=1 timeout=60
Nov 24 12:26:22.500 guest-a pacemaker-controld  [197] (log_executor_event) 	notice: Result of start operation for vip on guest-a: OK | Pacemaker 3 says OK
Nov 24 11:00:00.000 guest-a pacemaker-controld  [197] (log_executor_event) 	notice: Result of start operation for vip on guest-a: ok | too early
`

func TestTimelineOf(t *testing.T) {
	// Read a day after they were written, as a test reads them.
	ev := ParseLog(strings.NewReader(sampleLog), TimelineLines, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	if len(ev) != 10 {
		t.Fatalf("ParseLog: %d events, want 10", len(ev))
	}
	since := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	tl := timelineOf("guest-a", ev, since, seen)
	var got []string
	for _, e := range tl {
		got = append(got, e.Time.Format("15:04:05.000")+" "+e.What)
	}
	want := []string{
		"12:25:58.872 membership: guest-b lost",
		"12:26:03.812 fencing (reboot) of guest-b requested",
		"12:26:09.052 fencing of guest-b (reboot, by guest-a) confirmed",
		"12:26:10.100 promote drbd_r0 on guest-a begins",
		"12:26:18.704 promote drbd_r0 on guest-a: ok",
		"12:26:21.040 start fs on guest-a: error (Generic)",
		"12:26:22.400 fencing (off) of guest-c requested",
		"12:26:22.500 start vip on guest-a: OK",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timelineOf =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Seen once, kept once: another node's copy adds nothing.
	if more := timelineOf("guest-b", ev, since, seen); len(more) != 0 {
		t.Errorf("a second node repeated %d events", len(more))
	}
}

// TestLogYear: Pacemaker's log lines have no year; the year is the one
// that puts a line nearest to the time it is read, also across a new
// year and for a leap day.
func TestLogYear(t *testing.T) {
	for _, tt := range []struct {
		line string
		ref  time.Time
		want time.Time
	}{
		{"Dec 31 23:59:58.250", time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC), time.Date(2026, 12, 31, 23, 59, 58, 250e6, time.UTC)},
		{"Jan  1 00:00:01.000", time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC)},
		{"Dec  7 13:27:18.001", time.Date(2026, 12, 7, 13, 30, 0, 0, time.UTC), time.Date(2026, 12, 7, 13, 27, 18, 1e6, time.UTC)},
		{"Dec 07 13:27:18.001", time.Date(2026, 12, 7, 13, 30, 0, 0, time.UTC), time.Date(2026, 12, 7, 13, 27, 18, 1e6, time.UTC)},
		{"Feb 29 10:00:00.000", time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC)},
		{"Feb 29 10:00:00.000", time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC)},
	} {
		ev := ParseLog(strings.NewReader(tt.line+" n1 pacemaker-controld [1] (f) notice: x\n"), regexp.MustCompile("notice"), tt.ref)
		if len(ev) != 1 || !ev[0].Time.Equal(tt.want) {
			t.Errorf("ParseLog(%q, read at %v) = %v, want %v", tt.line, tt.ref, ev, tt.want)
		}
	}
}

func TestCorosyncConfig(t *testing.T) {
	conf := CorosyncConf("pldrbd", 3000, []string{"guest-a", "guest-b"}, []string{"198.51.100.11", "198.51.100.12"})
	for _, want := range []string{
		"cluster_name: pldrbd\n", "token: 3000\n", "two_node: 1\n",
		"nodeid: 1\n\t\tname: guest-a\n\t\tring0_addr: 198.51.100.11\n",
		"nodeid: 2\n\t\tname: guest-b\n\t\tring0_addr: 198.51.100.12\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("CorosyncConf lacks %q:\n%s", want, conf)
		}
	}
	three := CorosyncConf("c", 0, []string{"n1", "n2", "n3"}, []string{"a", "b", "c"})
	if strings.Contains(three, "two_node") || strings.Contains(three, "token:") {
		t.Errorf("three nodes, no token: %s", three)
	}
}
