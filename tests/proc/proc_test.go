package proc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	pidFile := filepath.Join(dir, "pid")
	p, err := Start(Spec{Argv: []string{"sh", "-c", "echo started; exec sleep 60", "marker-" + dir},
		Log: log, PIDFile: pidFile})
	if err != nil {
		t.Fatal(err)
	}
	if p.Exited() {
		t.Fatal("exited at once")
	}
	if got := Recorded(pidFile); got != p.PID() {
		t.Errorf("Recorded = %d, want %d", got, p.PID())
	}
	if got := Recorded(pidFile, "no-such-mark"); got != 0 {
		t.Errorf("Recorded with a mark the command line lacks = %d, want 0", got)
	}
	if err := Until(5*time.Second, 10*time.Millisecond, func() error {
		if !ArgvIs(p.PID(), "sleep", "60") {
			return errors.New("not sleeping yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if StartTime(p.PID()) == "" || !Alive(p.PID()) {
		t.Errorf("no start time or not alive")
	}
	if err := p.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !p.Exited() || Alive(p.PID()) {
		t.Errorf("still there after Stop")
	}
	if got := Recorded(pidFile); got != 0 {
		t.Errorf("Recorded after exit = %d, want 0", got)
	}
	data, _ := os.ReadFile(log)
	if !strings.Contains(string(data), "started") {
		t.Errorf("log %q lacks the output", data)
	}
}

// A process that ignores SIGTERM is killed, and Stop says so.
func TestStopKills(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the trap is set
	if err := p.Stop(300 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop = %v, want an error saying it was killed", err)
	}
	if !p.Exited() {
		t.Error("not exited")
	}
}

func TestSlotFreeze(t *testing.T) {
	var s Slot
	if s.PID() != 0 || !s.Exited() || s.Freeze() == nil || s.Stop(time.Second) != nil {
		t.Fatal("an empty slot")
	}
	p, err := Start(Spec{Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	s.Set(p)
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st := State(p.PID()); st != 'T' {
		t.Errorf("state %c after Freeze", st)
	}
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(5 * time.Second); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if s.Get() != nil {
		t.Error("Stop left the process in the slot")
	}
}

func TestMatchingAndKill(t *testing.T) {
	marker := "pl-proc-test-" + filepath.Base(t.TempDir())
	// sh stays (it waits for sleep), with the marker on its command line.
	p, err := Start(Spec{Argv: []string{"sh", "-c", "sleep 60; : " + marker}})
	if err != nil {
		t.Fatal(err)
	}
	if pids := Matching(marker); len(pids) != 1 || pids[0] != p.PID() {
		t.Errorf("Matching = %v, want [%d]", pids, p.PID())
	}
	if left := KillMatching(marker, 2*time.Second); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	<-p.Done()
	q, err := Start(Spec{Argv: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	if left := Kill([]int{q.PID()}, 2*time.Second); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	<-q.Done()
}

func TestUntil(t *testing.T) {
	n := 0
	if err := Until(time.Second, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("Until = %v after %d checks, want nil after 3", err, n)
	}
	err := Until(30*time.Millisecond, 5*time.Millisecond, func() error { return errors.New("never") })
	if err == nil || !strings.Contains(err.Error(), "not within 30ms: never") {
		t.Errorf("Until = %v, want a timeout with the last error", err)
	}
	gone := errors.New("gone")
	n = 0
	start := time.Now()
	err = Until(time.Minute, time.Millisecond, func() error { n++; return Abort(gone) })
	if err != gone || n != 1 || time.Since(start) > time.Second {
		t.Errorf("Until = %v after %d checks, want the aborting error at once", err, n)
	}
}
