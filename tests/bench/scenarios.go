package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

const (
	vip4 = "192.0.2.50"
	vip6 = "fd00:db8:1::50"
)

func inner(o options) int {
	tmp, err := os.MkdirTemp("", "paceline-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	_ = os.Chmod(tmp, 0o755)
	ours := filepath.Join(tmp, "IPaddr2")
	if err := os.Symlink(o.bin, ours); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b := &bench{o: o, tmp: tmp, log: os.Stderr,
		impls: [2]impl{{"stock", filepath.Join(stockDir, "IPaddr2")}, {"paceline", ours}}}
	if err := b.run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		// Leave nothing behind for the next run.
		for _, ip := range []string{vip4, vip6} {
			_, _ = b.call(b.impls[1], "stop", map[string]string{"ip": ip}, 0, nil)
		}
		return 1
	}
	report := b.report()
	fmt.Print(report)
	if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if len(b.failed) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d target(s) missed\n", len(b.failed))
		return 1
	}
	return 0
}

// pair measures one scenario for both agents as performance-anchors.md
// did for the stock ones: consecutive calls of one agent, in two rounds,
// the agents taking turns (stock, paceline, stock, paceline) so that both
// see the same machine load. Calls in a block of one agent warm the caches
// the same way for both; alternating single calls would bill paceline for
// the cache misses left by the 40 processes of each stock call.
func (b *bench) pair(name string, n int, action string, params map[string]string, interval time.Duration, want ocf.Status) error {
	fmt.Fprintf(b.log, "  %s\n", name)
	r := row{scenario: name, stock: &measure{}, ours: &measure{}}
	for round := 0; round < 2; round++ {
		for k, im := range b.impls {
			m := r.stock
			if k == 1 {
				m = r.ours
			}
			for i := 0; i < (n+1)/2; i++ {
				if err := b.one(im, m, action, params, interval, want); err != nil {
					return err
				}
			}
		}
	}
	for k, im := range b.impls {
		m := r.stock
		if k == 1 {
			m = r.ours
		}
		if err := b.traced(im, m, action, params, interval); err != nil {
			return err
		}
	}
	b.rows = append(b.rows, r)
	return nil
}

// startStop measures start and stop for both agents, each starting on a
// clean interface and stopping what it started.
func (b *bench) startStop(label, ip string) error {
	fmt.Fprintf(b.log, "  start/stop %s\n", label)
	params := map[string]string{"ip": ip}
	start := row{scenario: "start " + label, stock: &measure{}, ours: &measure{}}
	stop := row{scenario: "stop " + label, stock: &measure{}, ours: &measure{}}
	for i := 0; i < b.o.slow; i++ {
		for k, im := range b.impls {
			ms, mt := start.stock, stop.stock
			if k == 1 {
				ms, mt = start.ours, stop.ours
			}
			if err := b.one(im, ms, "start", params, 0, ocf.Success); err != nil {
				return err
			}
			if err := b.one(im, mt, "stop", params, 0, ocf.Success); err != nil {
				return err
			}
			// Let background announcers finish before the next agent runs.
			time.Sleep(time.Second)
		}
	}
	for k, im := range b.impls {
		ms, mt := start.stock, stop.stock
		if k == 1 {
			ms, mt = start.ours, stop.ours
		}
		if err := b.traced(im, ms, "start", params, 0); err != nil {
			return err
		}
		if err := b.traced(im, mt, "stop", params, 0); err != nil {
			return err
		}
	}
	b.rows = append(b.rows, start, stop)
	return nil
}

// measureDAD times the kernel's duplicate address detection alone: from
// adding the address over netlink to the tentative flag clearing.
func (b *bench) measureDAD() error {
	fmt.Fprintf(b.log, "  kernel DAD alone\n")
	link, err := netlink.LinkByName("v0")
	if err != nil {
		return err
	}
	ip := net.ParseIP("fd00:db8:1::51")
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(64, 128)}}
	for i := 0; i < b.o.slow; i++ {
		t0 := time.Now()
		if err := netlink.AddrAdd(link, addr); err != nil {
			return err
		}
		for {
			as, err := netlink.AddrList(link, unix.AF_INET6)
			if err != nil {
				return err
			}
			tentative := false
			for _, a := range as {
				if a.IP.Equal(ip) && a.Flags&unix.IFA_F_TENTATIVE != 0 {
					tentative = true
				}
			}
			if !tentative {
				break
			}
			if time.Since(t0) > 10*time.Second {
				return fmt.Errorf("DAD did not finish in 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.dad = append(b.dad, time.Since(t0))
		if err := netlink.AddrDel(link, addr); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) run() error {
	fmt.Fprintf(b.log, "bench: IPaddr2, stock vs paceline, %d calls per monitor scenario, %d per start/stop\n", b.o.n, b.o.slow)
	v4 := map[string]string{"ip": vip4}
	v6 := map[string]string{"ip": vip6}
	steps := []func() error{
		func() error { return b.pair("meta-data", b.o.n, "meta-data", nil, 0, ocf.Success) },
		func() error {
			return b.pair("monitor IPv4, not running", b.o.n, "monitor", v4, 10*time.Second, ocf.NotRunning)
		},
		func() error { return b.pair("probe IPv4, not running", b.o.n, "monitor", v4, 0, ocf.NotRunning) },
		func() error { return b.withStarted(v4, "monitor IPv4, running") },
		func() error { return b.withStarted(v6, "monitor IPv6, running") },
		func() error { return b.startStop("IPv4", vip4) },
		func() error { return b.startStop("IPv6", vip6) },
		b.measureDAD,
		b.measureFloor,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) withStarted(params map[string]string, name string) error {
	if _, err := b.call(b.impls[1], "start", params, 0, nil); err != nil {
		return err
	}
	defer b.call(b.impls[1], "stop", params, 0, nil)
	time.Sleep(time.Second) // past the background announcements
	return b.pair(name, b.o.n, "monitor", params, 10*time.Second, ocf.Success)
}

// measureFloor times "paceline version": starting the Go binary and doing
// nothing, the part of every call no agent code can save.
func (b *bench) measureFloor() error {
	fmt.Fprintf(b.log, "  process start floor\n")
	for i := 0; i < b.o.n; i++ {
		cmd := exec.Command(b.o.bin, "version")
		if err := cmd.Run(); err != nil {
			return err
		}
		b.floor = append(b.floor, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	return nil
}
