//go:build system

package virtualdomain_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/guestimage"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

// onHost returns a copy of the agent that runs inside host's namespaces,
// where qemu:///system is host's libvirtd and the other hosts' names
// resolve: what Pacemaker on that node would run.
func onHost(a *h.Agent, host *libvirthost.Host) *h.Agent {
	b := *a
	b.Params = map[string]string{}
	for k, v := range a.Params {
		b.Params[k] = v
	}
	b.Params["hypervisor"] = "qemu:///system"
	b.Wrap = host.Wrap()
	return &b
}

// counterAdvances waits until the guest's serial file on host shows a
// counter above after.
func counterAdvances(t *testing.T, host *libvirthost.Host, name string, after int, within time.Duration) int {
	t.Helper()
	serial := host.SerialLog(name)
	var n int
	proc.Eventually(t, within, 200*time.Millisecond, fmt.Sprintf("the guest's counter on %s passing %d", host.Name, after), func() error {
		data, _ := os.ReadFile(serial)
		if n = guestimage.LastCounter(string(data)); n <= after {
			return fmt.Errorf("serial:\n%s", tail(string(data)))
		}
		return nil
	})
	return n
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

func lastCounter(host *libvirthost.Host, name string) int {
	data, _ := os.ReadFile(host.SerialLog(name))
	return guestimage.LastCounter(string(data))
}

// TestLiveMigration moves a running guest between two libvirt hosts with
// migrate_to on the source and migrate_from on the target, as Pacemaker
// does, and checks that the guest kept running through it: its counter
// goes on on the target from where it was, without a reboot.
func TestLiveMigration(t *testing.T) {
	hosts := libvirthost.Start(t, 2)
	n1, n2 := hosts[0], hosts[1]
	base, name := guest(t, n1, guestimage.Domain{})
	a1, a2 := onHost(base, n1), onHost(base, n2)
	a1.Params["migration_transport"] = "tcp"
	a2.Params["migration_transport"] = "tcp"
	a1.Params["migration_downtime"] = "200"
	a2.Params["migration_downtime"] = "200"

	h.Expect(t, a1.Call(t, "start", h.Timeout(90*time.Second)), ocf.Success, "")
	h.Expect(t, a2.Call(t, "monitor"), ocf.NotRunning, "")
	before := counterAdvances(t, n1, name, 2, 60*time.Second)

	res := a1.Call(t, "migrate_to", h.Timeout(120*time.Second),
		h.Meta("migrate_source", n1.Name), h.Meta("migrate_target", n2.Name))
	h.Expect(t, res, ocf.Success, "")
	t.Logf("migrate_to took %s", res.Elapsed)
	h.Expect(t, a2.Call(t, "migrate_from", h.Timeout(60*time.Second),
		h.Meta("migrate_source", n1.Name), h.Meta("migrate_target", n2.Name)), ocf.Success, "")
	h.Expect(t, a1.Call(t, "monitor"), ocf.NotRunning, "")
	h.Expect(t, a2.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")

	// The guest goes on counting on n2 from where it stopped on n1: no
	// reboot. Where it stopped is read from n1's serial file, not guessed
	// from how long the migration took (the guest counted on through it,
	// for as long as a loaded machine made it last); one more allows for
	// a line cut in two at the switch.
	last := lastCounter(n1, name)
	after := counterAdvances(t, n2, name, last, 30*time.Second)
	serial2, _ := os.ReadFile(n2.SerialLog(name))
	if strings.Contains(string(serial2), "BOOTED-OK") {
		t.Errorf("the guest booted again on %s:\n%s", n2.Name, tail(string(serial2)))
	}
	if first := firstCounter(string(serial2)); last < before || first <= last || first > last+2 {
		t.Errorf("the counter on %s starts at %d, after %d last on %s (%d before the migration)", n2.Name, first, last, n1.Name, before)
	}
	t.Logf("counter %d on %s before the migration, %d last there, then %d on %s", before, n1.Name, last, after, n2.Name)
	if p := persistent(n2, name); p != "yes" {
		t.Errorf("on the target Persistent = %q, want yes", p)
	}
	if p := persistent(n1, name); p != "not defined" {
		t.Errorf("on the source the domain is still defined (Persistent %q)", p)
	}
	log := agentLog(t, a1)
	if !strings.Contains(log, "succeeded in") || !strings.Contains(log, "downtime") {
		t.Errorf("migrate_to did not log its result:\n%s", log)
	}

	// The target's libvirtd is dead: migrate_to fails fast and the guest
	// stays where it is. Fast: the dead target is the answer, not a wait
	// for the budget; half of the timeout tells the two apart under any
	// load.
	n1.Stop(t)
	const deadTimeout = 60 * time.Second
	res = a2.Call(t, "migrate_to", h.Timeout(deadTimeout),
		h.Meta("migrate_source", n2.Name), h.Meta("migrate_target", n1.Name))
	h.Expect(t, res, ocf.ErrGeneric, "still runs here")
	if res.Elapsed >= deadTimeout/2 {
		t.Errorf("migrate_to a dead target took %s of a %s timeout", res.Elapsed, deadTimeout)
	}
	h.Expect(t, a2.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	counterAdvances(t, n2, name, lastCounter(n2, name), 15*time.Second)
	n1.Restart(t)

	// A migration that cannot finish in its budget (1 MiB/s for 96 MiB) is
	// aborted in time, and the guest keeps running on the source.
	timeout := 20 * time.Second
	res = a2.Call(t, "migrate_to", h.Timeout(timeout), h.Param("migration_speed", "1"),
		h.Meta("migrate_source", n2.Name), h.Meta("migrate_target", n1.Name))
	h.Expect(t, res, ocf.ErrGeneric, "aborted")
	if res.TimedOut || res.Elapsed >= timeout {
		t.Fatalf("the non-converging migrate_to took %s of %s (killed: %v)", res.Elapsed, timeout, res.TimedOut)
	}
	t.Logf("non-converging migrate_to gave up after %s of %s", res.Elapsed, timeout)
	h.Expect(t, a2.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, a1.Call(t, "monitor"), ocf.NotRunning, "")
	counterAdvances(t, n2, name, lastCounter(n2, name), 15*time.Second)
	if s := domstate(n2, name); s != "running" {
		t.Errorf("after the aborted migration the guest is %q on %s", s, n2.Name)
	}

	// migrate_from without a source (as ocf-tester calls it) does not wait
	// for the domain to arrive: half of the timeout tells the two apart
	// under any load.
	const fromTimeout = 60 * time.Second
	res = a1.Call(t, "migrate_from", h.Timeout(fromTimeout))
	h.Expect(t, res, ocf.ErrGeneric, "migration source")
	if res.Elapsed >= fromTimeout/2 {
		t.Errorf("migrate_from without a source took %s of a %s timeout", res.Elapsed, fromTimeout)
	}

	// config pointing at libvirt's own copy of the definition, as some
	// guides set it: undefining the source at the end of the migration
	// deletes that file, and the agent writes it back, so that the node
	// keeps its configuration for a later start.
	own := "/etc/libvirt/qemu/" + name + ".xml"
	ownOn := func(host *libvirthost.Host) string { return filepath.Join(host.Dir, "etc", "qemu", name+".xml") }
	before2, err := os.ReadFile(ownOn(n2))
	if err != nil {
		t.Fatalf("libvirt's copy of the definition on %s: %v", n2.Name, err)
	}
	a1.Params["config"], a2.Params["config"] = own, own
	h.Expect(t, a2.Call(t, "migrate_to", h.Timeout(120*time.Second),
		h.Meta("migrate_source", n2.Name), h.Meta("migrate_target", n1.Name)), ocf.Success, "")
	h.Expect(t, a1.Call(t, "migrate_from", h.Timeout(60*time.Second),
		h.Meta("migrate_source", n2.Name), h.Meta("migrate_target", n1.Name)), ocf.Success, "")
	if p := persistent(n2, name); p != "not defined" {
		t.Errorf("after migrating back the domain is still defined on %s (Persistent %q)", n2.Name, p)
	}
	if after2, err := os.ReadFile(ownOn(n2)); err != nil || string(after2) != string(before2) {
		t.Errorf("config %s on %s after the migration: %v (content kept: %v)", own, n2.Name, err, string(after2) == string(before2))
	}
	h.Expect(t, a1.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, a1.Call(t, "stop", h.Timeout(60*time.Second)), ocf.Success, "")
	h.Expect(t, a2.Call(t, "validate-all"), ocf.Success, "")
}

// firstCounter is the first COUNTER n in a serial log.
func firstCounter(serial string) int {
	for _, l := range strings.Split(serial, "\n") {
		var n int
		if i := strings.Index(l, "COUNTER "); i >= 0 {
			if _, err := fmt.Sscanf(l[i:], "COUNTER %d", &n); err == nil {
				return n
			}
		}
	}
	return 0
}
