//go:build cgo

package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirt"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// This file is the only one that talks to libvirt. Every call runs in its
// own goroutine and is abandoned when the action's context ends: a libvirt
// call on a hung daemon blocks in C and cannot be interrupted, but the
// agent can still answer in time and exit, which ends the call with it.

// This build (Companion) has libvirt's client: it runs every action
// itself and hands none over.
const delegateTo = ""

// bounded runs f and returns its result, or an error naming what when ctx
// ends first.
func bounded[T any](ctx context.Context, what string, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("%s: no time left", what)
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, &hungError{what: what}
	}
}

// libvirtError reduces a libvirt error to its message.
func libvirtError(err error) error {
	var le libvirt.Error
	if errors.As(err, &le) {
		return errors.New(strings.TrimSpace(le.Message))
	}
	return err
}

func isCode(err error, codes ...libvirt.ErrorNumber) bool {
	var le libvirt.Error
	if !errors.As(err, &le) {
		return false
	}
	for _, c := range codes {
		if le.Code == c {
			return true
		}
	}
	return false
}

// eventsOnce sets up libvirt's default event loop once per process; it
// must run before the connection whose events are wanted is opened.
var eventsOnce sync.Once

func startEvents() error {
	var err error
	eventsOnce.Do(func() {
		if err = libvirt.EventRegisterDefaultImpl(); err != nil {
			return
		}
		go func() {
			for libvirt.EventRunDefaultImpl() == nil {
			}
		}()
	})
	return err
}

// dialLibvirt opens one libvirt connection; uri "" is libvirt's default.
// With events, the default event loop runs (for migration statistics).
func dialLibvirt(ctx context.Context, uri string, events bool) (Hypervisor, error) {
	if events {
		if err := startEvents(); err != nil {
			return nil, notInstalled(err)
		}
	}
	c, err := bounded(ctx, "connect", func() (*libvirt.Connect, error) {
		return libvirt.NewConnect(uri)
	})
	if err != nil {
		return nil, notInstalled(err)
	}
	return &lvConn{c: c}, nil
}

// notInstalled turns "the libvirt library is not there" into exit code 5;
// other connection failures stay as they are.
func notInstalled(err error) error {
	if strings.Contains(err.Error(), "Failed to open libvirt") || strings.Contains(err.Error(), "libvirt.so") {
		return ocf.NotInstalled("the libvirt client library is not installed: %v", libvirtError(err))
	}
	return libvirtError(err)
}

type lvConn struct{ c *libvirt.Connect }

func (h *lvConn) Close() {
	c := h.c
	// Closing talks to the daemon too; never wait for a hung one.
	done := make(chan struct{})
	go func() { _, _ = c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond):
	}
}

func (h *lvConn) URI(ctx context.Context) (string, error) {
	return bounded(ctx, "read the connection URI", h.c.GetURI)
}

func (h *lvConn) Lookup(ctx context.Context, name string) (Domain, error) {
	d, err := bounded(ctx, "look up domain "+name, func() (*libvirt.Domain, error) {
		return h.c.LookupDomainByName(name)
	})
	if isCode(err, libvirt.ERR_NO_DOMAIN) {
		return nil, ErrNoDomain
	}
	if err != nil {
		return nil, libvirtError(err)
	}
	return &lvDomain{conn: h, d: d, name: name}, nil
}

func (h *lvConn) Define(ctx context.Context, xml string) (Domain, error) {
	d, err := bounded(ctx, "define the domain", func() (*libvirt.Domain, error) {
		return h.c.DomainDefineXML(xml)
	})
	if err != nil {
		return nil, libvirtError(err)
	}
	name, _ := d.GetName()
	return &lvDomain{conn: h, d: d, name: name}, nil
}

func (h *lvConn) Restore(ctx context.Context, file string) error {
	_, err := bounded(ctx, "restore from "+file, func() (struct{}, error) {
		return struct{}{}, h.c.DomainRestore(file)
	})
	return libvirtError(err)
}

func (h *lvConn) StartPool(ctx context.Context, name string) error {
	_, err := bounded(ctx, "start storage pool "+name, func() (struct{}, error) {
		p, err := h.c.LookupStoragePoolByName(name)
		if err != nil {
			return struct{}{}, err
		}
		defer func() { _ = p.Free() }()
		if on, err := p.IsActive(); err == nil && on {
			return struct{}{}, p.Refresh(0)
		}
		return struct{}{}, p.Create(0)
	})
	return libvirtError(err)
}

func (h *lvConn) StartNetwork(ctx context.Context, name string) error {
	_, err := bounded(ctx, "start network "+name, func() (struct{}, error) {
		n, err := h.c.LookupNetworkByName(name)
		if err != nil {
			return struct{}{}, err
		}
		defer func() { _ = n.Free() }()
		if on, err := n.IsActive(); err == nil && on {
			return struct{}{}, nil
		}
		return struct{}{}, n.Create()
	})
	return libvirtError(err)
}

type lvDomain struct {
	conn *lvConn
	d    *libvirt.Domain
	name string
}

func (d *lvDomain) State(ctx context.Context) (State, error) {
	s, err := bounded(ctx, "read the state of "+d.name, func() (libvirt.DomainState, error) {
		s, _, err := d.d.GetState()
		return s, err
	})
	if isCode(err, libvirt.ERR_NO_DOMAIN) {
		return Undefined, nil
	}
	if err != nil {
		return NoState, libvirtError(err)
	}
	return State(s), nil
}

func (d *lvDomain) Info(ctx context.Context) (Info, error) {
	in, err := bounded(ctx, "read the info of "+d.name, d.d.GetInfo)
	if err != nil {
		return Info{}, libvirtError(err)
	}
	return Info{VCPUs: int(in.NrVirtCpu), MaxMemKiB: in.MaxMem}, nil
}

func (d *lvDomain) Start(ctx context.Context) error {
	_, err := bounded(ctx, "start "+d.name, func() (struct{}, error) {
		return struct{}{}, d.d.Create()
	})
	return libvirtError(err)
}

var shutdownFlags = map[string]libvirt.DomainShutdownFlags{
	"acpi":     libvirt.DOMAIN_SHUTDOWN_ACPI_POWER_BTN,
	"agent":    libvirt.DOMAIN_SHUTDOWN_GUEST_AGENT,
	"initctl":  libvirt.DOMAIN_SHUTDOWN_INITCTL,
	"signal":   libvirt.DOMAIN_SHUTDOWN_SIGNAL,
	"paravirt": libvirt.DOMAIN_SHUTDOWN_PARAVIRT,
}

func (d *lvDomain) Shutdown(ctx context.Context, modes []string) error {
	var flags libvirt.DomainShutdownFlags
	for _, m := range modes {
		flags |= shutdownFlags[m]
	}
	_, err := bounded(ctx, "shut down "+d.name, func() (struct{}, error) {
		return struct{}{}, d.d.ShutdownFlags(flags)
	})
	if isCode(err, libvirt.ERR_NO_DOMAIN, libvirt.ERR_OPERATION_INVALID) {
		return nil // already off
	}
	return libvirtError(err)
}

func (d *lvDomain) Destroy(ctx context.Context) error {
	_, err := bounded(ctx, "destroy "+d.name, func() (struct{}, error) {
		return struct{}{}, d.d.DestroyFlags(libvirt.DOMAIN_DESTROY_DEFAULT)
	})
	if isCode(err, libvirt.ERR_NO_DOMAIN, libvirt.ERR_OPERATION_INVALID) {
		return nil // not running or gone: what a destroy wants
	}
	return libvirtError(err)
}

func (d *lvDomain) Save(ctx context.Context, file string) error {
	_, err := bounded(ctx, "save "+d.name+" to "+file, func() (struct{}, error) {
		return struct{}{}, d.d.Save(file)
	})
	return libvirtError(err)
}

func (d *lvDomain) InactiveXML(ctx context.Context) (string, error) {
	x, err := bounded(ctx, "read the XML of "+d.name, func() (string, error) {
		return d.d.GetXMLDesc(libvirt.DOMAIN_XML_INACTIVE | libvirt.DOMAIN_XML_SECURE)
	})
	return x, libvirtError(err)
}

func (d *lvDomain) Undefine(ctx context.Context) error {
	_, err := bounded(ctx, "undefine "+d.name, func() (struct{}, error) {
		return struct{}{}, d.d.UndefineFlags(libvirt.DOMAIN_UNDEFINE_KEEP_NVRAM)
	})
	if isCode(err, libvirt.ERR_NO_DOMAIN) {
		return nil
	}
	return libvirtError(err)
}

func (d *lvDomain) Migrate(ctx context.Context, m MigrateSpec, log func(string, ...any)) (MigrateStats, error) {
	o := m.Opts
	flags := libvirt.MIGRATE_LIVE | libvirt.MIGRATE_PERSIST_DEST | libvirt.MIGRATE_UNDEFINE_SOURCE
	for _, f := range []struct {
		on   bool
		flag libvirt.DomainMigrateFlags
	}{
		{o.P2P, libvirt.MIGRATE_PEER2PEER}, {o.Tunnelled, libvirt.MIGRATE_TUNNELLED},
		{o.Unsafe, libvirt.MIGRATE_UNSAFE}, {o.Compressed, libvirt.MIGRATE_COMPRESSED},
		{o.AutoConverge, libvirt.MIGRATE_AUTO_CONVERGE}, {o.PostCopy, libvirt.MIGRATE_POSTCOPY},
		{o.AbortOnError, libvirt.MIGRATE_ABORT_ON_ERROR}, {o.CopyStorageAll, libvirt.MIGRATE_NON_SHARED_DISK},
		{o.CopyStorageInc, libvirt.MIGRATE_NON_SHARED_INC}, {o.TLS, libvirt.MIGRATE_TLS},
		{o.Parallel, libvirt.MIGRATE_PARALLEL},
	} {
		if f.on {
			flags |= f.flag
		}
	}
	params := &libvirt.DomainMigrateParameters{}
	if m.URI != "" {
		params.URISet, params.URI = true, m.URI
	}
	if m.Bandwidth > 0 {
		params.BandwidthSet, params.Bandwidth = true, m.Bandwidth
	}
	if o.ListenAddress != "" {
		params.ListenAddressSet, params.ListenAddress = true, o.ListenAddress
	}
	if o.ParallelConnections > 0 {
		params.ParallelConnectionsSet, params.ParallelConnections = true, o.ParallelConnections
	}

	// The final statistics: the source domain is undefined once the
	// migration succeeded, so they come from the job-completed event.
	var stats MigrateStats
	var statsMu sync.Mutex
	gotStats := make(chan struct{})
	var once sync.Once
	id, err := bounded(ctx, "register for migration events", func() (int, error) {
		return d.conn.c.DomainEventJobCompletedRegister(d.d, func(_ *libvirt.Connect, _ *libvirt.Domain, ev *libvirt.DomainEventJobCompleted) {
			statsMu.Lock()
			stats = statsOf(&ev.Info)
			statsMu.Unlock()
			once.Do(func() { close(gotStats) })
		})
	})
	var hung *hungError
	switch {
	case errors.As(err, &hung):
		return stats, err
	case err != nil:
		log("no migration statistics: %v", libvirtError(err))
	default:
		// Deregistering talks to the daemon too: never wait for it.
		defer func() { go func() { _ = d.conn.c.DomainEventDeregister(id) }() }()
	}

	// The maximum downtime is not a migration parameter: set it before the
	// migration and again once the job runs (upstream sets it 2 s in).
	if m.Downtime > 0 {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := bounded(sctx, "set the maximum downtime", func() (struct{}, error) {
			return struct{}{}, d.d.MigrateSetMaxDowntime(m.Downtime, 0)
		})
		cancel()
		if err != nil {
			log("setting the maximum downtime before the migration: %v (retried once it runs)", libvirtError(err))
		}
	}

	var dconn *libvirt.Connect
	if !o.P2P {
		// What virsh migrate does without --p2p: the client opens the
		// target's connection and drives both sides.
		c, err := bounded(ctx, "connect to the target "+m.RemoteURI, func() (*libvirt.Connect, error) {
			return libvirt.NewConnect(m.RemoteURI)
		})
		if err != nil {
			return stats, fmt.Errorf("cannot reach the target's libvirt at %s: %v", m.RemoteURI, libvirtError(err))
		}
		dconn = c
		defer (&lvConn{c: c}).Close()
	}

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		if o.P2P {
			done <- d.d.MigrateToURI3(m.RemoteURI, params, flags)
			return
		}
		nd, err := d.d.Migrate3(dconn, params, flags)
		if nd != nil {
			_ = nd.Free()
		}
		done <- err
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	abort := time.NewTimer(time.Until(m.AbortAt))
	defer abort.Stop()
	downtimeSet := m.Downtime == 0
	aborted := false
	for {
		select {
		case err := <-done:
			if err != nil {
				if aborted {
					return stats, ErrMigrationAborted
				}
				return stats, libvirtError(err)
			}
			select {
			case <-gotStats:
			case <-time.After(500 * time.Millisecond):
			}
			statsMu.Lock()
			defer statsMu.Unlock()
			if stats.Elapsed == 0 {
				stats.Elapsed = time.Since(start)
			}
			return stats, nil
		case <-tick.C:
			jctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
			j, err := bounded(jctx, "read the migration job", func() (*libvirt.DomainJobInfo, error) {
				return d.d.GetJobStats(0)
			})
			cancel()
			if err != nil || j.Type == libvirt.DOMAIN_JOB_NONE {
				continue
			}
			if !downtimeSet {
				downtimeSet = true
				go func() { _ = d.d.MigrateSetMaxDowntime(m.Downtime, 0) }()
			}
			log("migration of %s: %s", d.name, progress(statsOf(j)))
		case <-abort.C:
			if aborted {
				continue
			}
			aborted = true
			log("migration of %s did not finish in time: aborting it", d.name)
			go func() { _ = d.d.AbortJob() }()
		case <-ctx.Done():
			// The abort did not end the job in time either.
			if aborted {
				return stats, fmt.Errorf("%w; libvirt did not confirm the abort in time", ErrMigrationAborted)
			}
			return stats, &hungError{what: "migration"}
		}
	}
}

func statsOf(j *libvirt.DomainJobInfo) MigrateStats {
	return MigrateStats{
		Elapsed:      time.Duration(j.TimeElapsed) * time.Millisecond,
		Downtime:     time.Duration(j.Downtime) * time.Millisecond,
		DowntimeSet:  j.DowntimeSet,
		MemTotal:     j.MemTotal,
		MemProcessed: j.MemProcessed,
		MemRemaining: j.MemRemaining,
		MemBps:       j.MemBps,
		Iteration:    j.MemIteration,
	}
}
