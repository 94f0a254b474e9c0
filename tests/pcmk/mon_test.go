package pcmk

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// As crm_mon 2.1 prints it (abridged), after a line that is not XML.
const sampleMon = `warning: something first
<pacemaker-result api-version="2.25" request="crm_mon -1 -r --output-as=xml">
  <summary>
    <current_dc present="true" version="2.1.5" name="guest-a" id="1" with_quorum="true"/>
  </summary>
  <nodes>
    <node name="guest-a" id="1" online="true"/>
    <node name="guest-b" id="2" online="false"/>
  </nodes>
  <resources>
    <clone id="drbd_r0-clone" multi_state="true">
      <resource id="drbd_r0" role="Promoted" active="true" failed="false">
        <node name="guest-a" id="1" cached="true"/>
      </resource>
      <resource id="drbd_r0" role="Stopped" active="false" failed="false"/>
    </clone>
    <group id="svc">
      <resource id="fs" role="Started" failed="true">
        <node name="guest-a" id="1" cached="true"/>
      </resource>
    </group>
  </resources>
  <node_history>
    <node name="guest-b"/>
  </node_history>
</pacemaker-result>
`

func TestParseMon(t *testing.T) {
	m, err := ParseMon(sampleMon)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Summary.DC.Present || m.Summary.DC.Name != "guest-a" || !m.Summary.DC.WithQuorum || m.Online() != 1 {
		t.Errorf("ParseMon = %+v", m)
	}
	got := ParseResources(sampleMon)
	want := []Resource{{ID: "drbd_r0", Role: "Promoted", Node: "guest-a"}, {ID: "drbd_r0", Role: "Stopped"},
		{ID: "fs", Role: "Started", Node: "guest-a", Failed: true}}
	if len(got) != len(want) {
		t.Fatalf("ParseResources = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("resource %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAnswerer(t *testing.T) {
	macs := map[string]int{"52:54:00:00:03:11": 0, "52:54:00:00:03:12": 1}
	one := "Unicast reply from 198.51.100.100 [52:54:00:00:03:12]  0.7ms\n"
	if i, err := Answerer("198.51.100.100", one+one, nil, macs); i != 1 || err != nil {
		t.Errorf("one MAC: %d, %v", i, err)
	}
	if i, err := Answerer("198.51.100.100", one, nil, map[string]int{"52:54:00:00:03:12": 0}); i != 0 || err != nil {
		t.Errorf("node 0 is a node: %d, %v", i, err)
	}
	two := one + "Unicast reply from 198.51.100.100 [52:54:00:00:03:11]  0.7ms\n"
	for name, c := range map[string]struct {
		out string
		err error
	}{"none": {"Sent 3 probes\n", errors.New("exit status 1")}, "two MACs": {two, nil},
		"unknown MAC": {"Unicast reply from 198.51.100.100 [02:00:00:00:00:01]\n", nil}} {
		if i, err := Answerer("198.51.100.100", c.out, c.err, macs); i != Nobody || err == nil {
			t.Errorf("%s: %d, %v; want Nobody and an error", name, i, err)
		}
	}
}

func TestTimelinePower(t *testing.T) {
	ev := ParseLog(strings.NewReader(sampleLog), TimelineLines, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
	at := func(s string) time.Time {
		return time.Date(2026, 11, 24, 12, 26, 0, 0, time.UTC).Add(mustDuration(t, s))
	}
	tl := Timeline(time.Date(2026, 11, 24, 12, 26, 0, 0, time.UTC),
		[]NodeLog{{Node: "guest-a", Events: ev}, {Node: "guest-b", Events: ev}},
		[]Power{{Node: "guest-b", At: at("4s")}, {Node: "guest-b", At: at("8s"), On: true}, {Node: "guest-b", At: at("-1s")}})
	var got []string
	for _, e := range tl[:4] {
		got = append(got, e.Node+": "+e.What)
	}
	want := []string{"guest-a: fencing (reboot) of guest-b requested", "BMC guest-b: power off: guest-b dies",
		"BMC guest-b: power on: guest-b boots", "guest-a: fencing of guest-b (reboot, by guest-a) confirmed"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Timeline =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(tl) != 9 {
		t.Errorf("%d entries, want 9 (each log event once, the power off before since left out)", len(tl))
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
