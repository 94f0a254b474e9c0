package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// The agent's actions live in a file each: start.go, stop.go,
// monitor.go (monitor, and the waits start and migrate_from share),
// migrate.go. This file holds what every action has: its configuration,
// its connection (connect.go) and the domain's state.

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	h := ocf.Actions(withAction(start), withAction(stop), withAction(monitor), validate)
	h["migrate_to"], h["migrate_from"] = withAction(migrateTo), withAction(migrateFrom)
	return &ocf.Agent{Meta: Metadata(), Handlers: h}
}

// withAction makes a handler of an action that needs the configuration
// and the connection (see run).
func withAction(f func(context.Context, *action) error) ocf.Handler {
	return func(ctx context.Context, r *ocf.Request) error { return run(ctx, r, f) }
}

// action is one action with its configuration and connection.
type action struct {
	r    *ocf.Request
	cfg  *Config
	name string // domain name
	doc  []byte // the config file
	hv   Hypervisor

	// shutdownEvery is how often stop repeats its shutdown request
	// (shutdownResend); the unit tests shorten it.
	shutdownEvery time.Duration
}

// newAction reads the parameters and the config file; the connection is
// made by run.
func newAction(r *ocf.Request) (*action, error) {
	cfg, err := ParseConfig(r)
	if err != nil {
		return nil, err
	}
	name, doc, err := readDomainName(r, cfg.File)
	if err != nil {
		return nil, err
	}
	return &action{r: r, cfg: cfg, name: name, doc: doc, shutdownEvery: shutdownResend}, nil
}

// run is every action but validate-all: the configuration, one
// connection for the whole action, then the action itself.
func run(ctx context.Context, r *ocf.Request, act func(context.Context, *action) error) error {
	a, err := newAction(r)
	if err != nil {
		return err
	}
	hv, err := connect(ctx, r, a.cfg.Hypervisor)
	if err != nil {
		return err
	}
	defer hv.Close()
	a.hv = hv
	return act(ctx, a)
}

func validate(_ context.Context, r *ocf.Request) error {
	cfg, err := ParseConfig(r)
	if err != nil {
		return err
	}
	if _, _, err := readDomainName(r, cfg.File); err != nil {
		return err
	}
	if cfg.SyncConfig {
		if _, err := lookPath(r, "csync2"); err != nil {
			return ocf.NotInstalled("sync_config_on_stop needs csync2: %v", err)
		}
	}
	if cfg.BackingFile != "" {
		if _, err := lookPath(r, "qemu-img"); err != nil {
			return ocf.NotInstalled("backingfile needs qemu-img: %v", err)
		}
	}
	return nil
}

// lookPath finds a program in the agent's PATH without touching the
// process environment.
func lookPath(r *ocf.Request, prog string) (string, error) {
	path := r.EnvValue("PATH")
	if path == "" {
		path = "/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", prog, path)
}

// lookup returns the domain, or nil when libvirt does not know it.
func (a *action) lookup(ctx context.Context) (Domain, error) {
	d, err := a.hv.Lookup(ctx, a.name)
	if errors.Is(err, ErrNoDomain) {
		return nil, nil
	}
	if err != nil {
		return nil, ocf.Generic("cannot look up domain %s: %v", a.name, err)
	}
	return d, nil
}

// state reads the domain's state, retrying "no state" (which libvirt
// reports briefly while it reconnects to a domain) a few times.
func (a *action) state(ctx context.Context, d Domain) (State, error) {
	if d == nil {
		return Undefined, nil
	}
	for try := 0; ; try++ {
		s, err := d.State(ctx)
		if err != nil {
			return NoState, ocf.Generic("cannot read the state of domain %s: %v", a.name, err)
		}
		if s != NoState || try >= 2 || !ocf.Sleep(ctx, time.Second) {
			return s, nil
		}
	}
}

// status is the domain's state as the monitor's result (StatusOf).
func (a *action) status(ctx context.Context) (Domain, State, error) {
	d, err := a.lookup(ctx)
	if err != nil {
		return nil, NoState, err
	}
	s, err := a.state(ctx, d)
	if err != nil {
		return d, s, err
	}
	return d, s, StatusOf(a.name, s)
}

// shown is a hypervisor URI as messages name it.
func shown(uri string) string {
	if uri == "" {
		return "the default libvirt URI"
	}
	return uri
}
