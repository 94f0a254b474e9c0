package main

import (
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

const (
	vip4 = "192.0.2.50"
	vip6 = "fd00:db8:1::50"
)

func (b *bench) ipaddr2() error {
	b.typ, b.inst = "IPaddr2", "vip"
	v4 := map[string]string{"ip": vip4}
	v6 := map[string]string{"ip": vip6}
	b.undo = append(b.undo, func() {
		b.typ = "IPaddr2"
		for _, p := range []map[string]string{v4, v6} {
			_, _ = b.call(b.impls[1], op{action: "stop", params: p}, nil)
		}
	})
	monitor := func(p map[string]string, want ocf.Status) op {
		return op{action: "monitor", params: p, interval: 10 * time.Second, want: want}
	}
	steps := []func() error{
		func() error { return b.pair("meta-data", b.o.n, op{action: "meta-data"}, false) },
		func() error { return b.pair("monitor IPv4, not running", b.o.n, monitor(v4, ocf.NotRunning), true) },
		func() error {
			return b.pair("probe IPv4, not running", b.o.n, op{action: "monitor", params: v4, want: ocf.NotRunning}, true)
		},
		func() error { return b.started(v4, "monitor IPv4, running", monitor(v4, ocf.Success)) },
		func() error { return b.started(v6, "monitor IPv6, running", monitor(v6, ocf.Success)) },
		func() error { return b.startStop("IPv4", v4) },
		func() error { return b.startStop("IPv6", v6) },
		b.measureDAD,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) started(params map[string]string, name string, o op) error {
	if _, err := b.call(b.impls[1], op{action: "start", params: params}, nil); err != nil {
		return err
	}
	defer b.call(b.impls[1], op{action: "stop", params: params}, nil)
	time.Sleep(time.Second) // past the background announcements
	return b.pair(name, b.o.n, o, true)
}

func (b *bench) startStop(label string, params map[string]string) error {
	// Let background announcers finish before the next agent runs.
	b.settle = func() { time.Sleep(time.Second) }
	defer func() { b.settle = nil }()
	return b.cycle(b.o.slow, []string{"start " + label, "stop " + label}, []op{
		{action: "start", params: params, want: ocf.Success},
		{action: "stop", params: params, want: ocf.Success},
	}, []bool{false, false})
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
