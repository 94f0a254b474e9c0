// Package ipaddr2 is ocf:paceline:IPaddr2, a floating IPv4/IPv6 address
// managed over netlink: a drop-in replacement for ocf:heartbeat:IPaddr2.
package ipaddr2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	return &ocf.Agent{Meta: Metadata(), Handlers: ocf.Actions(start, stop, monitor, validate)}
}

// target is a resolved configuration: where the address goes.
type target struct {
	cfg    *Config
	host   *host
	link   *Link // nil when the interface is missing
	place  Placement
	addrs  []Addr
	absent bool // resolve stopped early: the address is on no interface
}

func present(addrs []Addr, ip netip.Addr) bool {
	for _, a := range addrs {
		if a.Prefix.Addr() == ip {
			return true
		}
	}
	return false
}

// name returns an interface's name for messages.
func (t *target) name(index int) string {
	if t.link != nil && index == t.link.Index {
		return t.link.Name
	}
	return t.host.LinkName(index)
}

func (t *target) Close() { t.host.Close() }

// netlinkTimeout bounds each netlink answer: the kernel answers at once,
// but no action may outlive its budget even if it did not.
func netlinkTimeout(ctx context.Context) time.Duration {
	return ocf.Share(ctx, 1, 10*time.Millisecond, 5*time.Second)
}

// resolve opens the namespace, finds the interface and prefix, and reads
// the addresses of the family. The error says what could not be found;
// callers map it to their own exit codes.
//
// With lazy, an address that is on no interface leaves the interface
// unlooked-up (absent is set), saving monitor and stop a netlink request.
func resolve(ctx context.Context, cfg *Config, lazy bool) (*target, error) {
	h, err := openHost(cfg.Netns, netlinkTimeout(ctx))
	if err != nil {
		return nil, err
	}
	t := &target{cfg: cfg, host: h}
	if t.addrs, err = h.Addrs(cfg.V6); err != nil {
		h.Close()
		return nil, err
	}
	if cfg.NIC != "" {
		l, err := h.LinkByName(cfg.NIC)
		if err != nil {
			h.Close()
			return nil, &errNoLink{name: cfg.NIC, err: err}
		}
		t.link = &l
	}
	var routes []Route
	if cfg.NIC == "" || cfg.Bits <= 0 {
		loopback := cfg.IP.Is4() && cfg.IP.As4()[0] == 127
		if routes, err = h.Routes(cfg.V6, loopback); err != nil {
			h.Close()
			return nil, err
		}
	}
	nic := 0
	if t.link != nil {
		nic = t.link.Index
	}
	t.place, err = FindIf(cfg.IP, nic, cfg.Bits, cfg.Proto, routes)
	if err != nil {
		return t, err
	}
	if lazy && t.link == nil && !present(t.addrs, cfg.IP) {
		// Nobody will ask about the interface of an address that is on
		// none: monitor and stop are done.
		t.absent = true
		return t, nil
	}
	if t.link == nil {
		l, err := h.LinkByIndex(t.place.Link)
		if err != nil {
			return t, &errNoLink{name: fmt.Sprintf("#%d", t.place.Link), err: err}
		}
		t.link = &l
	}
	t.place.NIC = t.link.Name
	return t, nil
}

// errNoLink is an interface that cannot be looked up.
type errNoLink struct {
	name string
	err  error
}

func (e *errNoLink) Error() string {
	if e.err == nil || errors.Is(e.err, syscall.ENODEV) {
		return fmt.Sprintf("interface %s does not exist", e.name)
	}
	return fmt.Sprintf("interface %s: %v", e.name, e.err)
}

// validate checks the parameters the way start does, without changing
// anything: 6 for a wrong configuration, 2 for a namespace missing here.
func validate(ctx context.Context, r *ocf.Request) error {
	t, err := prepare(ctx, r)
	if err != nil {
		return err
	}
	t.Close()
	return nil
}

// prepare reads and checks the configuration and finds where the address
// goes, with start's exit codes: 6 for a wrong or unsupported
// configuration or a missing interface, 2 for a namespace missing here,
// 1 when no route gives the interface or prefix.
func prepare(ctx context.Context, r *ocf.Request) (*target, error) {
	cfg, err := ParseConfig(r)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		r.Log.Warnf("%s", w)
	}
	if cfg.Unsupported != "" {
		return nil, ocf.NotConfigured("%s", cfg.Unsupported)
	}
	t, err := resolve(ctx, cfg, false)
	var nolink *errNoLink
	switch {
	case err == nil:
		err = cfg.CheckLabel(t.place.NIC)
	case errors.Is(err, ErrNoNamespace):
		err = ocf.InvalidArgs("%v", err)
	case errors.As(err, &nolink):
		err = ocf.NotConfigured("%v", err)
	default: // no route, or netlink failing
		err = ocf.Generic("%v", err)
	}
	if err != nil {
		if t != nil {
			t.Close()
		}
		return nil, err
	}
	return t, nil
}

func start(ctx context.Context, r *ocf.Request) error {
	if err := ocf.NeedRoot("IPaddr2", "change addresses"); err != nil {
		return err
	}
	t, err := prepare(ctx, r)
	if err != nil {
		return err
	}
	defer t.Close()
	cfg, p, h := t.cfg, t.place, t.host

	state, found := Locate(cfg.IP, p, t.addrs)
	if state == Here {
		r.Log.Infof("%s is already served", describe(cfg.IP, p.Bits, p.NIC))
		return nil
	}
	for _, a := range found {
		if a.Link == p.Link {
			// Present on our interface with another prefix (or failed DAD):
			// replace it rather than keep two entries.
			r.Log.Warnf("removing %s/%d from %s before adding it as /%d", cfg.IP, a.Prefix.Bits(), p.NIC, p.Bits)
			if err := h.DelAddr(*t.link, cfg.IP, a.Prefix.Bits()); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
				return ocf.Generic("remove stale %s/%d from %s: %v", cfg.IP, a.Prefix.Bits(), p.NIC, err)
			}
		} else {
			r.Log.Warnf("%s is also configured on %s", cfg.IP, t.name(a.Link))
		}
	}

	adminUp, carrier := linkState(*t.link)
	if !adminUp {
		r.Log.Infof("bringing %s up", p.NIC)
		if err := h.SetUp(*t.link); err != nil {
			return ocf.Generic("bring %s up: %v", p.NIC, err)
		}
		// A physical NIC takes a second or more to see its carrier after
		// coming up; wait for it within the budget (at most 5 s).
		limit := time.Now().Add(5 * time.Second)
		for {
			if l, err := h.LinkByIndex(t.link.Index); err == nil {
				t.link = &l
				_, carrier = linkState(l)
			}
			if carrier || !cfg.CheckLink || time.Now().After(limit) || ctx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if cfg.CheckLink && !carrier {
		return ocf.NotInstalled("interface %s has no carrier (link down)", p.NIC)
	}
	announce := len(t.link.MAC) == 6 && !strings.HasPrefix(p.NIC, "lo")

	if cfg.RunArping && !cfg.V6 && announce {
		c, err := h.probeARP(ctx, t.link.Index, t.link.MAC, cfg.IP)
		if err != nil {
			return ocf.Generic("duplicate address check for %s on %s: %v", cfg.IP, p.NIC, err)
		}
		if c != nil {
			return ocf.Generic("%s is already in use on the network by %s (run_arping)", cfg.IP, c.MAC)
		}
	}

	p.Broadcast = ChooseBroadcast(cfg.Broadcast, cfg.IP, p.Bits, p.Link, t.addrs)
	msg := fmt.Sprintf("adding %s", describe(cfg.IP, p.Bits, p.NIC))
	if p.Broadcast.IsValid() {
		msg += " broadcast " + p.Broadcast.String()
	}
	if l := cfg.Label(p.NIC); l != "" {
		msg += " label " + l
	}
	r.Log.Infof("%s", msg)
	if cfg.AddrLabel {
		// Before the address, so that no packet leaves from it unlabelled.
		r.Log.Infof("adding IPv6 address label %s/128 label %d", cfg.IP, cfg.AddrLabelValue)
		if err := h.AddAddrLabel(cfg.IP, cfg.AddrLabelValue); err != nil && !errors.Is(err, syscall.EEXIST) {
			r.Log.Warnf("IPv6 address label for %s: %v", cfg.IP, err)
		}
	}
	if err := h.AddAddr(*t.link, cfg, p); err != nil && !errors.Is(err, syscall.EEXIST) {
		if errors.Is(err, syscall.EPERM) {
			return ocf.Perm("add %s: %v", describe(cfg.IP, p.Bits, p.NIC), err)
		}
		return ocf.Generic("add %s: %v", describe(cfg.IP, p.Bits, p.NIC), err)
	}

	if cfg.V6 && !cfg.NoDAD {
		if err := waitDAD(ctx, r, t); err != nil {
			return err
		}
	}
	if announce && cfg.ArpCount > 0 {
		if err := sendAnnouncements(ctx, r, t, cfg.ArpCount, cfg.ArpBackground); err != nil {
			// The address is up; a failed announcement is worth a warning,
			// not a failed start (neighbours learn it on the next packet).
			r.Log.Warnf("announcing %s on %s: %v", cfg.IP, p.NIC, err)
		}
	}
	return nil
}

// waitDAD waits while the kernel's duplicate address detection runs on
// the new IPv6 address. A failed DAD removes the address and fails start.
func waitDAD(ctx context.Context, r *ocf.Request, t *target) error {
	cfg, p := t.cfg, t.place
	limit := time.Now().Add(10 * time.Second)
	for {
		addrs, err := t.host.Addrs(true)
		if err != nil {
			return ocf.Generic("read addresses during DAD: %v", err)
		}
		var me *Addr
		for i := range addrs {
			if addrs[i].Prefix.Addr() == cfg.IP && addrs[i].Link == p.Link {
				me = &addrs[i]
			}
		}
		switch {
		case me == nil:
			return ocf.Generic("%s disappeared from %s during duplicate address detection", cfg.IP, p.NIC)
		case me.DADFailed:
			_ = t.host.DelAddr(*t.link, cfg.IP, me.Prefix.Bits())
			return ocf.Generic("IPv6 address %s is already in use on %s: duplicate address detection failed", cfg.IP, p.NIC)
		case !me.Tentative:
			return nil
		}
		if time.Now().After(limit) {
			r.Log.Warnf("%s is still tentative after 10 s of duplicate address detection", cfg.IP)
			return nil
		}
		select {
		case <-ctx.Done():
			return ocf.Generic("duplicate address detection for %s did not finish within the start timeout", cfg.IP)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func sendAnnouncements(ctx context.Context, r *ocf.Request, t *target, count int, background bool) error {
	a, err := t.host.newAnnouncer(t.link.Index, t.link.MAC, t.cfg.IP, t.cfg.ArpReply)
	if err != nil {
		return err
	}
	defer a.Close()
	what := "gratuitous ARP"
	if t.cfg.V6 {
		what = "unsolicited neighbour advertisement"
	}
	if !background || count == 1 {
		r.Log.Infof("sending %d %s for %s on %s", count, what, t.cfg.IP, t.place.NIC)
		_, err := a.Send(ctx, count, t.cfg.ArpInterval)
		return err
	}
	if _, err := a.Send(ctx, 1, 0); err != nil {
		return err
	}
	r.Log.Infof("sent 1 %s for %s on %s, %d more in the background", what, t.cfg.IP, t.place.NIC, count-1)
	return startBackground(r, t, count-1)
}

func stop(ctx context.Context, r *ocf.Request) error {
	if err := ocf.NeedRoot("IPaddr2", "change addresses"); err != nil {
		return err
	}
	cfg, err := ParseConfig(r)
	if err != nil {
		// Nothing can have been added with a configuration that cannot be
		// read; a failed stop would get the node fenced.
		r.Log.Warnf("stop with an invalid configuration: %v", err)
		stopBackground(r, "")
		return nil
	}
	stopBackground(r, cfg.IP.String())
	t, err := resolve(ctx, cfg, true)
	if t != nil {
		defer t.Close()
	}
	var noroute *ErrNoRoute
	switch {
	case err == nil && t.absent:
		return nil
	case errors.Is(err, ErrNoNamespace):
		r.Log.Warnf("%v: nothing to remove", err)
		return nil
	case errors.As(err, &noroute):
		// Without a route the interface is unknown; an address that is
		// still configured somewhere is ours (ip is unique).
		return removeEverywhere(r, t, cfg)
	case err != nil:
		var nolink *errNoLink
		if errors.As(err, &nolink) {
			// Gone, or a name the kernel refuses: no address of ours can
			// be on it.
			r.Log.Infof("%v: nothing to remove", err)
			return nil
		}
		return ocf.Generic("%v", err)
	}
	p := t.place
	_, found := Locate(cfg.IP, p, t.addrs)
	removed := false
	for _, a := range found {
		if a.Link != p.Link {
			r.Log.Warnf("%s is also configured on %s; leaving it there", cfg.IP, t.name(a.Link))
			continue
		}
		r.Log.Infof("removing %s", describe(cfg.IP, a.Prefix.Bits(), p.NIC))
		if err := t.host.DelAddr(*t.link, cfg.IP, a.Prefix.Bits()); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return ocf.Generic("remove %s: %v", describe(cfg.IP, a.Prefix.Bits(), p.NIC), err)
		}
		removed = true
	}
	if removed && cfg.AddrLabel {
		if err := t.host.DelAddrLabel(cfg.IP, cfg.AddrLabelValue); err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESRCH) {
			r.Log.Warnf("remove the IPv6 address label of %s: %v", cfg.IP, err)
		}
	}
	if removed && cfg.FlushRoutes {
		if err := t.host.FlushRouteCache(cfg.V6); err != nil {
			r.Log.Warnf("flush route cache: %v", err)
		}
	}
	return nil
}

func removeEverywhere(r *ocf.Request, t *target, cfg *Config) error {
	for _, a := range t.addrs {
		if a.Prefix.Addr() != cfg.IP {
			continue
		}
		l, err := t.host.LinkByIndex(a.Link)
		if err != nil {
			continue
		}
		name := l.Name
		r.Log.Infof("no route for %s; removing it from %s", cfg.IP, name)
		if err := t.host.DelAddr(l, cfg.IP, a.Prefix.Bits()); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			return ocf.Generic("remove %s: %v", describe(cfg.IP, a.Prefix.Bits(), name), err)
		}
	}
	return nil
}

func monitor(ctx context.Context, r *ocf.Request) error {
	cfg, err := ParseConfig(r)
	if err != nil {
		// A monitor never reports a configuration error (that would stop
		// the resource everywhere); start and validate-all do.
		return ocf.Stopped("%v", err)
	}
	t, err := resolve(ctx, cfg, true)
	if t != nil {
		defer t.Close()
	}
	var noroute *ErrNoRoute
	var nolink *errNoLink
	switch {
	case err == nil && t.absent:
		return ocf.Stopped("")
	case err == nil:
	case errors.As(err, &nolink) && !r.Probe:
		// The interface vanished under a running resource: a failure of
		// this node, as resource-agents reports it since 3.9.6 (1, not
		// 7); a probe on a node without it just finds nothing running.
		return ocf.Generic("%v", err)
	case errors.Is(err, ErrNoNamespace), errors.As(err, &nolink):
		return ocf.Stopped("%v", err)
	case errors.As(err, &noroute) && r.Probe:
		return ocf.Stopped("%v", err)
	default:
		return ocf.Generic("%v", err)
	}
	p := t.place
	state, found := Locate(cfg.IP, p, t.addrs)
	switch state {
	case Absent:
		return ocf.Stopped("")
	case Failed:
		return ocf.Stopped("%s on %s failed duplicate address detection", cfg.IP, p.NIC)
	case Elsewhere:
		var where []string
		for _, a := range found {
			where = append(where, fmt.Sprintf("%s/%d on %s", cfg.IP, a.Prefix.Bits(), t.name(a.Link)))
		}
		return ocf.Stopped("expected %s, found %s", describe(cfg.IP, p.Bits, p.NIC), strings.Join(where, ", "))
	}
	if cfg.CheckLink {
		if up, carrier := linkState(*t.link); !up || !carrier {
			return ocf.Stopped("%s is configured but interface %s is down", cfg.IP, p.NIC)
		}
	}
	if cfg.ArpCountRefresh > 0 && !cfg.V6 {
		if len(t.link.MAC) == 6 && !strings.HasPrefix(p.NIC, "lo") {
			a, err := t.host.newAnnouncer(t.link.Index, t.link.MAC, cfg.IP, cfg.ArpReply)
			if err == nil {
				_, err = a.Send(ctx, cfg.ArpCountRefresh, cfg.ArpInterval)
				a.Close()
			}
			if err != nil {
				r.Log.Warnf("refresh ARP for %s: %v", cfg.IP, err)
			}
		}
	}
	return nil
}
