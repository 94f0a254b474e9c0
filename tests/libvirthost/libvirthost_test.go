//go:build system

// Package libvirthost_test checks the libvirt host harness against real
// libvirtd and qemu: two hosts, live migration between them, ACPI
// shutdown, destroy, and a hung, stopped and restarted daemon.
package libvirthost_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

// bootTimeout bounds a TCG boot to the first counter line (about 5 s
// alone, about 10 s on a loaded machine).
const bootTimeout = 60 * time.Second

// counterWait bounds the wait for a running guest to count on a few
// times (once a second): a TCG guest on a loaded machine is slower, only
// a stopped one never gets there.
const counterWait = 60 * time.Second

func TestTwoHosts(t *testing.T) {
	harness.RequireRoot(t, "libvirtd", "virsh", "qemu-system-x86_64", "busybox", "ip", "nsenter", "unshare")
	start := time.Now()
	img := guestimage.Tiny(t)
	hosts := libvirthost.Start(t, 2)
	n1, n2 := hosts[0], hosts[1]
	t.Logf("image and hosts %s, %s ready after %v", n1.Name, n2.Name, time.Since(start).Round(time.Millisecond))

	if got := strings.TrimSpace(n1.Virsh(t, "hostname")); got != n1.Name {
		t.Errorf("n1 reports hostname %q, want %q", got, n1.Name)
	}
	out, err := n1.Command(ctx(t, 30*time.Second), "virsh", "-c", n2.TCPURI, "hostname").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != n2.Name {
		t.Fatalf("n1 -> %s hostname: %v %q, want %q", n2.TCPURI, err, out, n2.Name)
	}

	// Both guests boot at once: vm1 (migrated, then shut down by ACPI)
	// and vm2, which ignores ACPI.
	define(t, n1, img, guestimage.Domain{Name: "vm1"})
	define(t, n1, img, guestimage.Domain{Name: "vm2", IgnoreACPI: true})
	n1.Virsh(t, "start", "vm1")
	n1.Virsh(t, "start", "vm2")
	n1.WaitSerial(t, n1.SerialLog("vm1"), "COUNTER 2 ", bootTimeout)
	n1.WaitSerial(t, n1.SerialLog("vm2"), "COUNTER 1 ", bootTimeout)
	t.Logf("guests counting after %v", time.Since(start).Round(time.Millisecond))

	t.Run("migrate", func(t *testing.T) {
		before := guestimage.LastCounter(readFile(t, n1.SerialLog("vm1")))
		begin := time.Now()
		out, err := n1.Command(ctx(t, 2*time.Minute), "virsh", "migrate", "--live", "--persistent",
			"--undefinesource", "vm1", n2.TCPURI).CombinedOutput()
		if err != nil {
			t.Fatalf("virsh migrate inside %s: %v\n%s%s%s", n1.Name, err, out, n1.LogTail(), n2.LogTail())
		}
		t.Logf("migrated in %v", time.Since(begin).Round(time.Millisecond))
		if st := domstate(t, n2, "vm1"); st != "running" {
			t.Fatalf("vm1 on n2: %q, want running", st)
		}
		if list := n1.Virsh(t, "list", "--all", "--name"); strings.Contains(list, "vm1") {
			t.Fatalf("vm1 still defined on n1 after --undefinesource:\n%s", list)
		}
		// The same guest counts on in n2's serial file, where the source
		// stopped: no reboot, no restart of the counter.
		last := guestimage.LastCounter(readFile(t, n1.SerialLog("vm1")))
		waitCounter(t, n2, n2.SerialLog("vm1"), last+2, counterWait)
		serial := readFile(t, n2.SerialLog("vm1"))
		if first := firstCounter(serial); first < before || first > last+2 || strings.Contains(serial, "BOOTED-OK") {
			t.Fatalf("vm1 on n2 starts at COUNTER %d (source: %d before, %d last); booted again?\n%s", first, before, last, serial)
		}
		t.Logf("counter %d before migration, %d last on n1, %d first on n2", before, last, firstCounter(serial))
	})

	t.Run("acpi-shutdown", func(t *testing.T) {
		n2.Virsh(t, "shutdown", "vm1")
		waitState(t, n2, "vm1", "shut off", 30*time.Second)
	})

	// vm2 ran since it booted; acpid is not running in it.
	t.Run("freeze-thaw", func(t *testing.T) {
		n1.Freeze(t)
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		begin := time.Now()
		out, err := n1.VirshCommand(c, "list").CombinedOutput()
		if err == nil || c.Err() == nil {
			n1.Thaw(t)
			t.Fatalf("virsh list answered from a frozen libvirtd after %v: %v\n%s", time.Since(begin), err, out)
		}
		n1.Thaw(t)
		if list := n1.Virsh(t, "list", "--name"); !strings.Contains(list, "vm2") {
			t.Fatalf("after Thaw, vm2 is not listed:\n%s", list)
		}
	})

	t.Run("stop-restart", func(t *testing.T) {
		pid := n1.DaemonPID()
		n1.Stop(t)
		out, err := n1.VirshCommand(ctx(t, 10*time.Second), "list").CombinedOutput()
		if err == nil {
			t.Fatalf("virsh list answered with libvirtd %d stopped:\n%s", pid, out)
		}
		// The guest runs on without its daemon.
		seen := guestimage.LastCounter(readFile(t, n1.SerialLog("vm2")))
		waitCounter(t, n1, n1.SerialLog("vm2"), seen+2, counterWait)
		n1.Restart(t)
		if n1.DaemonPID() == pid {
			t.Fatalf("libvirtd PID %d unchanged by Restart", pid)
		}
		if st := domstate(t, n1, "vm2"); st != "running" {
			t.Fatalf("vm2 after libvirtd restart: %q, want running", st)
		}
	})

	t.Run("shutdown-ignored-destroy", func(t *testing.T) {
		n1.Virsh(t, "shutdown", "vm2") // the request is delivered; nobody acts on it
		seen := guestimage.LastCounter(readFile(t, n1.SerialLog("vm2")))
		waitCounter(t, n1, n1.SerialLog("vm2"), seen+3, counterWait)
		if st := domstate(t, n1, "vm2"); st != "running" {
			t.Fatalf("vm2 after an ignored shutdown: %q, want running", st)
		}
		n1.Virsh(t, "destroy", "vm2")
		if st := domstate(t, n1, "vm2"); st != "shut off" {
			t.Fatalf("vm2 after destroy: %q, want shut off", st)
		}
	})
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// define writes the domain XML of spec into h's dir and defines it on h.
func define(t *testing.T, h *libvirthost.Host, img guestimage.Image, spec guestimage.Domain) {
	t.Helper()
	p := filepath.Join(h.Dir, spec.Name+".xml")
	if err := os.WriteFile(p, []byte(img.DomainXML(spec)), 0o644); err != nil {
		t.Fatal(err)
	}
	h.Virsh(t, "define", p)
}

// domstate is virsh domstate, in the C locale as VirshCommand runs it:
// virsh translates the state ("running", "shut off").
func domstate(t *testing.T, h *libvirthost.Host, dom string) string {
	t.Helper()
	cmd := h.VirshCommand(ctx(t, 2*time.Minute), "domstate", dom)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: virsh domstate %s: %v\n%s%s", h.Name, dom, err, stderr.String(), h.LogTail())
	}
	return strings.TrimSpace(string(out))
}

func waitState(t *testing.T, h *libvirthost.Host, dom, want string, timeout time.Duration) {
	t.Helper()
	err := proc.Until(timeout, 200*time.Millisecond, func() error {
		if st := domstate(t, h, dom); st != want {
			return fmt.Errorf("%q, want %q", st, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s on %s: %v\n%s", dom, h.Name, err, h.LogTail())
	}
}

// waitCounter waits until the serial file at path shows COUNTER min or
// higher.
func waitCounter(t *testing.T, h *libvirthost.Host, path string, min int, timeout time.Duration) {
	t.Helper()
	proc.Eventually(t, timeout, 100*time.Millisecond, h.Name+": COUNTER "+fmt.Sprint(min), func() error {
		data, _ := os.ReadFile(path)
		if guestimage.LastCounter(string(data)) < min {
			return fmt.Errorf("not in %s:\n%s", path, data)
		}
		return nil
	})
}

// firstCounter returns n of the first "COUNTER n" line, or 0.
func firstCounter(serial string) int {
	for _, line := range strings.Split(serial, "\n") {
		if n := guestimage.LastCounter(line); n > 0 {
			return n
		}
	}
	return 0
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}
