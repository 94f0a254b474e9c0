package virtualdomain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	return &ocf.Agent{
		Meta: Metadata(),
		Handlers: map[string]ocf.Handler{
			"start":        func(ctx context.Context, r *ocf.Request) error { return run(ctx, r, start) },
			"stop":         func(ctx context.Context, r *ocf.Request) error { return run(ctx, r, stop) },
			"monitor":      func(ctx context.Context, r *ocf.Request) error { return run(ctx, r, monitor) },
			"migrate_to":   func(ctx context.Context, r *ocf.Request) error { return run(ctx, r, migrateTo) },
			"migrate_from": func(ctx context.Context, r *ocf.Request) error { return run(ctx, r, migrateFrom) },
			"validate-all": validate,
		},
	}
}

// WithoutLibvirt tells whether an action with this hypervisor URI runs
// without the libvirt library: meta-data and validate-all, and monitor when
// the monitor's fast path (rpc.go) can reach the daemon. A build without
// cgo runs those itself and hands the others to paceline-libvirt.
func WithoutLibvirt(action, hypervisor string) bool {
	switch action {
	case "meta-data", "validate-all", "usage", "help", "methods":
		return true
	case "monitor", "status":
		_, _, _, ok := rpcTarget(hypervisor)
		return ok
	}
	return false
}

// Hypervisor is one libvirt connection. The real one is in libvirt.go;
// every method returns when ctx ends, answered or not.
type Hypervisor interface {
	URI(ctx context.Context) (string, error)
	Lookup(ctx context.Context, name string) (Domain, error) // ErrNoDomain when unknown
	Define(ctx context.Context, xml string) (Domain, error)
	Restore(ctx context.Context, file string) error
	StartPool(ctx context.Context, name string) error
	StartNetwork(ctx context.Context, name string) error
	Close()
}

// Domain is a libvirt domain on that connection.
type Domain interface {
	State(ctx context.Context) (State, error) // Undefined once it is gone
	Info(ctx context.Context) (Info, error)
	Start(ctx context.Context) error
	Shutdown(ctx context.Context, modes []string) error
	Destroy(ctx context.Context) error
	Save(ctx context.Context, file string) error
	InactiveXML(ctx context.Context) (string, error)
	// Undefine removes the persistent definition of an inactive domain
	// (keeping its NVRAM file); it fails on one with a managed save
	// image or snapshots rather than drop them.
	Undefine(ctx context.Context) error
	Migrate(ctx context.Context, m MigrateSpec, log func(string, ...any)) (MigrateStats, error)
}

// Info is what the utilization attributes are made of.
type Info struct {
	VCPUs     int
	MaxMemKiB uint64
}

// MigrateSpec is one live migration.
type MigrateSpec struct {
	RemoteURI string // the target's libvirt
	URI       string // the memory stream; "" lets libvirt choose
	Bandwidth uint64 // MiB/s, 0 = unlimited
	Downtime  uint64 // ms, 0 = default
	Opts      MigrateOptions
	AbortAt   time.Time
}

// MigrateStats are a migration job's figures.
type MigrateStats struct {
	Elapsed, Downtime      time.Duration
	DowntimeSet            bool
	MemTotal, MemProcessed uint64
	MemRemaining, MemBps   uint64
	Iteration              uint64
}

// ErrNoDomain is a domain libvirt does not know.
var ErrNoDomain = errors.New("domain not found")

// ErrMigrationAborted is a migration the agent aborted at its deadline.
var ErrMigrationAborted = errors.New("the migration did not finish in time and was aborted")

func progress(s MigrateStats) string {
	pct := 0.0
	if s.MemTotal > 0 {
		pct = 100 * float64(s.MemProcessed) / float64(s.MemTotal)
	}
	return fmt.Sprintf("%.0f%% of %d MiB sent, %d MiB left, iteration %d, %.1f MiB/s, %s elapsed",
		pct, s.MemTotal>>20, s.MemRemaining>>20, s.Iteration, float64(s.MemBps)/(1<<20), s.Elapsed.Round(time.Millisecond))
}

// action is one action with its configuration and connection.
type action struct {
	r    *ocf.Request
	cfg  *Config
	name string // domain name
	doc  []byte // the config file
	hv   Hypervisor
}

// fastDial connects through the monitor's fast path (rpc.go). It returns
// nil and no error when the URI or the daemon needs libvirt itself.
func fastDial(ctx context.Context, uri string, log *ocf.Logger) (Hypervisor, error) {
	network, addr, name, ok := rpcTarget(uri)
	if !ok {
		return nil, nil
	}
	if network == "unix" && !strings.Contains(uri, "socket=") {
		if _, err := os.Stat(addr); err != nil {
			// No monolithic libvirtd socket: modular daemons (virtqemud),
			// whose socket libvirt's own client logic finds.
			log.Debugf("no %s: using libvirt", addr)
			return nil, nil
		}
	}
	r, err := dialRPC(ctx, network, addr, name)
	var refused *rpcErr
	if errors.As(err, &refused) {
		// e.g. authentication required: libvirt knows how
		log.Debugf("remote protocol refused (%v): using libvirt", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rpcHV{r: r, uri: uri}, nil
}

func run(ctx context.Context, r *ocf.Request, f func(context.Context, *action) error) error {
	cfg, err := ParseConfig(r)
	if err != nil {
		return err
	}
	name, doc, err := readDomainName(r, cfg.File)
	if err != nil {
		return err
	}
	a := &action{r: r, cfg: cfg, name: name, doc: doc}
	var hv Hypervisor
	if r.Action == "monitor" || r.Action == "status" {
		hv, err = fastDial(ctx, cfg.Hypervisor, r.Log)
		if hv != nil {
			r.Log.Debugf("monitor over libvirt's remote protocol (%s)", shown(cfg.Hypervisor))
		}
	}
	if hv == nil && err == nil {
		hv, err = Dial(ctx, cfg.Hypervisor, r.Action == "migrate_to")
	}
	if err != nil {
		if ocf.CodeOf(err) == ocf.ErrInstalled {
			return err
		}
		var hung *hungError
		if errors.As(err, &hung) {
			return ocf.Generic("%v: %s", err, shown(cfg.Hypervisor))
		}
		return ocf.Generic("cannot connect to libvirt: %v (%s)", err, shown(cfg.Hypervisor))
	}
	defer hv.Close()
	a.hv = hv
	return f(ctx, a)
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
		if s != NoState || try >= 2 || !sleep(ctx, time.Second) {
			return s, nil
		}
	}
}

// status is the core of monitor: the domain's state as an OCF result.
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

func monitor(ctx context.Context, a *action) error {
	d, s, err := a.status(ctx)
	if err != nil {
		return err
	}
	if s == Paused {
		a.r.Log.Debugf("domain %s is paused; counted as running", a.name)
	}
	if err := a.runMonitorScripts(ctx); err != nil {
		return err
	}
	a.updateUtilization(ctx, d)
	if a.cfg.SaveConfig {
		a.saveConfig(ctx, d)
	}
	return nil
}

// runMonitorScripts runs monitor_scripts one after the other.
func (a *action) runMonitorScripts(ctx context.Context) error {
	for _, script := range a.cfg.MonitorScript {
		out, err := ocf.Helper{Path: script}.Run(ctx)
		text := strings.TrimSpace(string(out.Stdout))
		if err != nil {
			return ocf.Generic("monitor command %q for domain %s failed (%v) with output: %s", script, a.name, err, text)
		}
		a.r.Log.Debugf("monitor command %q for domain %s succeeded: %s", script, a.name, text)
	}
	return nil
}

// waitRunning polls until the domain runs and the monitor scripts pass.
func (a *action) waitRunning(ctx context.Context, what string) error {
	var last error
	for {
		_, _, err := a.status(ctx)
		if err == nil {
			if err = a.runMonitorScripts(ctx); err == nil {
				return nil
			}
		}
		last = err
		if !sleep(ctx, 250*time.Millisecond) {
			return ocf.Generic("domain %s is not running in time after %s: %s", a.name, what, ocf.ReasonOf(last))
		}
	}
}

func start(ctx context.Context, a *action) error {
	d, s, err := a.status(ctx)
	switch {
	case err == nil:
		a.r.Log.Infof("domain %s is already running", a.name)
		return nil
	case s == Crashed || s == PMSuspended:
		return ocf.Generic("domain %s is %s; it must be stopped before it can start", a.name, s)
	case ocf.CodeOf(err) != ocf.NotRunning:
		return err
	}
	a.removeUtilizationCache()

	if a.cfg.Snapshot != "" {
		file := filepath.Join(a.cfg.Snapshot, a.name+".state")
		if _, err := os.Stat(file); err == nil {
			if err := a.hv.Restore(ctx, file); err != nil {
				return ocf.Generic("failed to restore domain %s from %s: %v", a.name, file, err)
			}
			if err := os.Remove(file); err != nil {
				a.r.Log.Warnf("cannot remove the state file %s: %v", file, err)
			}
			a.r.Log.Infof("domain %s restored from %s", a.name, file)
			return a.waitRunning(ctx, "restore")
		}
	}
	if a.cfg.StartResources {
		if err := startResources(ctx, a.hv, a.doc); err != nil {
			return err
		}
	}
	if a.cfg.BackingFile != "" {
		if err := a.prepareImage(ctx); err != nil {
			return err
		}
	}
	// Define from the configuration each time: the file is the truth, and
	// a definition left by an earlier run or by migration is replaced.
	doc, err := a.definition(ctx, d)
	if err != nil {
		return err
	}
	d, err = a.hv.Define(ctx, string(doc))
	if err != nil {
		return ocf.Generic("failed to define domain %s from %s: %v", a.name, a.cfg.File, err)
	}
	if err := d.Start(ctx); err != nil {
		return ocf.Generic("failed to start domain %s: %v", a.name, err)
	}
	if err := a.waitRunning(ctx, "start"); err != nil {
		return err
	}
	a.r.Log.Infof("domain %s started", a.name)
	return nil
}

// definition returns the XML start defines: the config, made to fit the
// inactive domain d of the same name that libvirt knows already (nil:
// none). libvirt refuses to define a domain whose name another uuid has;
// a config without a uuid gets one made up at every define, so it gets
// d's, and d keeps its identity (NVRAM, snapshots, autostart). A config
// with another uuid is another domain: d's definition is removed first,
// as the stock agent removes any definition before it starts the domain.
func (a *action) definition(ctx context.Context, d Domain) ([]byte, error) {
	if d == nil {
		return a.doc, nil
	}
	want, err := DomainUUID(a.doc)
	if err != nil {
		return nil, ocf.NotConfigured("%s: %v", a.cfg.File, err)
	}
	cur, err := d.InactiveXML(ctx)
	if err != nil {
		return nil, ocf.Generic("cannot read the definition of domain %s: %v", a.name, err)
	}
	have, err := DomainUUID([]byte(cur))
	if err != nil || have == "" {
		return nil, ocf.Generic("cannot read the uuid of domain %s as libvirt has it: %v", a.name, err)
	}
	switch {
	case want == "":
		a.r.Log.Infof("%s has no uuid: domain %s keeps libvirt's %s", a.cfg.File, a.name, have)
		doc, err := WithUUID(a.doc, have)
		if err != nil {
			return nil, ocf.Generic("%s: %v", a.cfg.File, err)
		}
		return doc, nil
	case SameUUID(want, have):
		return a.doc, nil
	}
	a.r.Log.Warnf("domain %s is defined with uuid %s, %s gives %s: removing the old definition", a.name, have, a.cfg.File, want)
	restore := keepFile(a.cfg.File, libvirtConfigDir)
	err = d.Undefine(ctx)
	if rerr := restore(); rerr != nil {
		return nil, ocf.Generic("%v", rerr)
	}
	if err != nil {
		return nil, ocf.Generic("domain %s is defined with uuid %s, not %s's %s, and its definition cannot be removed: %v",
			a.name, have, a.cfg.File, want, err)
	}
	return a.doc, nil
}

// prepareImage creates the copy-on-write disk of backingfile mode.
func (a *action) prepareImage(ctx context.Context) error {
	image := strings.TrimSuffix(a.cfg.File, filepath.Ext(a.cfg.File)) + ".qcow2"
	if st, err := os.Stat(image); err == nil && st.Size() > 0 && !a.cfg.Stateless {
		return nil
	}
	format := "raw"
	if f, err := os.Open(a.cfg.BackingFile); err == nil {
		magic := make([]byte, 4)
		if n, _ := f.Read(magic); n == 4 && bytes.Equal(magic, []byte("QFI\xfb")) {
			format = "qcow2"
		}
		f.Close()
	} else {
		return ocf.Generic("cannot read backingfile %s: %v", a.cfg.BackingFile, err)
	}
	_ = os.Remove(image)
	out, err := ocf.Helper{Path: "qemu-img", Args: []string{"create", "-q", "-f", "qcow2",
		"-b", a.cfg.BackingFile, "-F", format, image}}.Run(ctx)
	if err != nil {
		return ocf.Generic("qemu-img create of %s on %s failed: %v: %s", image, a.cfg.BackingFile, err, strings.TrimSpace(string(out.Stdout)))
	}
	return nil
}

func stop(ctx context.Context, a *action) error {
	d, err := a.lookup(ctx)
	if err != nil {
		return err
	}
	s, err := a.state(ctx, d)
	if err != nil {
		return err
	}
	if !s.Active() {
		a.r.Log.Infof("domain %s is already stopped (%s)", a.name, s)
		return nil
	}
	graceful := s == Running || s == Blocked || s == Paused || s == ShuttingDown
	switch {
	case a.cfg.ForceStop:
		a.r.Log.Infof("force_stop: destroying domain %s", a.name)
	case !graceful:
		a.r.Log.Infof("domain %s is %s: destroying it", a.name, s)
	default:
		if done, err := a.gracefulStop(ctx, d); err != nil || done {
			return err
		}
	}
	return a.destroy(ctx, d)
}

// gracefulStop saves (snapshot) or shuts the domain down, until the time
// kept for a destroy is reached. done is true when the domain stopped.
func (a *action) gracefulStop(ctx context.Context, d Domain) (done bool, err error) {
	until := GracefulUntil(time.Now(), a.r.Deadline)
	gctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()

	if a.cfg.Snapshot != "" {
		file := filepath.Join(a.cfg.Snapshot, a.name+".state")
		if err := d.Save(gctx, file); err != nil {
			a.r.Log.Errorf("failed to save the state of domain %s to %s: %v; shutting it down", a.name, file, err)
		} else {
			a.r.Log.Infof("domain %s saved to %s", a.name, file)
			return a.waitStopped(ctx, d)
		}
	}
	if a.cfg.SaveConfig {
		a.saveConfig(gctx, d)
	}
	next := time.Now()
	for {
		if !time.Now().Before(until) {
			a.r.Log.Warnf("domain %s did not shut down gracefully in time: destroying it", a.name)
			return false, nil
		}
		if !time.Now().Before(next) {
			if err := d.Shutdown(gctx, a.cfg.ShutdownModes); err != nil {
				a.r.Log.Warnf("shutdown request to domain %s failed: %v", a.name, err)
			}
			next = time.Now().Add(shutdownResend)
		}
		s, err := d.State(gctx)
		if err == nil && !s.Active() {
			a.r.Log.Infof("domain %s shut down", a.name)
			return true, nil
		}
		sleep(gctx, 250*time.Millisecond)
	}
}

// destroy kills the domain and waits until libvirt says it is off.
func (a *action) destroy(ctx context.Context, d Domain) error {
	if err := d.Destroy(ctx); err != nil {
		return ocf.Generic("failed to destroy domain %s: %v", a.name, err)
	}
	if _, err := a.waitStopped(ctx, d); err != nil {
		return err
	}
	a.r.Log.Infof("domain %s destroyed", a.name)
	return nil
}

func (a *action) waitStopped(ctx context.Context, d Domain) (bool, error) {
	for {
		s, err := d.State(ctx)
		if err == nil && !s.Active() {
			return true, nil
		}
		if !sleep(ctx, 100*time.Millisecond) {
			if err != nil {
				return false, ocf.Generic("domain %s: cannot tell whether it stopped: %v", a.name, err)
			}
			return false, ocf.Generic("domain %s is still %s at the end of the stop's time", a.name, s)
		}
	}
}

func migrateTo(ctx context.Context, a *action) error {
	target := a.r.Meta.MigrateTarget
	d, _, err := a.status(ctx)
	if err != nil {
		if ocf.CodeOf(err) == ocf.NotRunning {
			return ocf.Generic("domain %s: migrate_to: not active locally", a.name)
		}
		return err
	}
	if target == "" {
		return ocf.Generic("domain %s: migrate_to needs the target node (CRM_meta_migrate_target is not set)", a.name)
	}
	local, err := a.hv.URI(ctx)
	if err != nil {
		return ocf.Generic("cannot read the hypervisor URI: %v", err)
	}
	remote, err := RemoteURI(a.cfg, local, target)
	if err != nil {
		return ocf.NotConfigured("%v", err)
	}
	spec := MigrateSpec{
		RemoteURI: remote,
		URI:       MigrateURI(a.cfg, local, target, 49152+rand.IntN(64)),
		Bandwidth: a.cfg.Speed,
		Downtime:  a.cfg.Downtime,
		Opts:      a.cfg.MigrateOpts,
		AbortAt:   AbortAt(time.Now(), a.r.Deadline),
	}
	if a.cfg.SaveConfig {
		a.saveConfig(ctx, d)
	}
	if a.cfg.StartResources {
		rhv, err := Dial(ctx, remote, false)
		if err != nil {
			return ocf.Generic("cannot reach the target's libvirt at %s: %v", remote, err)
		}
		err = startResources(ctx, rhv, a.doc)
		rhv.Close()
		if err != nil {
			return err
		}
	}
	a.r.Log.Infof("domain %s: live migration to %s (libvirt %s, stream %s, %s)", a.name, target, remote, orDefault(spec.URI), limits(spec))
	restore := keepFile(a.cfg.File, libvirtConfigDir)
	st, err := d.Migrate(ctx, spec, a.r.Log.Infof)
	if rerr := restore(); rerr != nil {
		a.r.Log.Warnf("domain %s: %v", a.name, rerr)
	}
	if err != nil {
		// Make sure where the domain is: the migration failed, so it
		// must still run here.
		where := "its state here is unknown (no time left to check)"
		if ctx.Err() == nil {
			s, serr := d.State(ctx)
			switch {
			case serr == nil && s.Active():
				where = "domain still runs here"
			case serr == nil:
				where = fmt.Sprintf("domain is %s here", s)
			}
		}
		return ocf.Generic("migration to %s failed, %s: %v", target, where, err)
	}
	a.r.Log.Infof("domain %s: live migration to %s succeeded in %s, downtime %s",
		a.name, target, st.Elapsed.Round(time.Millisecond), downtime(st))
	return nil
}

// libvirtConfigDir holds the persistent definitions of the system
// libvirtd, which it deletes when it undefines a domain.
const libvirtConfigDir = "/etc/libvirt/"

// keepFile guards the config file through a migration. libvirt deletes
// its own copy of a definition when it undefines the source domain, and
// some guides point config at that copy (/etc/libvirt/qemu/NAME.xml):
// without this, the node would lose the configuration with the domain.
// The returned function writes the file back, as it was, if it is gone.
// Only a file under ownDir (libvirt's) is guarded: no other can be
// deleted by the undefine, and a config on shared storage that hangs
// after the migration then cannot hold migrate_to past its timeout.
// (The stock agent keeps domains transient and guards the file at start.)
func keepFile(path, ownDir string) func() error {
	noop := func() error { return nil }
	// Through a link, the file the undefine deletes is the target.
	real, err := filepath.EvalSymlinks(path)
	if err != nil || !strings.HasPrefix(real, ownDir) {
		return noop
	}
	data, err := os.ReadFile(real)
	fi, serr := os.Stat(real)
	if err != nil || serr != nil {
		return noop
	}
	return func() error {
		if _, err := os.Stat(real); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		// Atomic: a kill half-way leaves no truncated definition.
		if err := ocf.WriteFileAtomic(real, data, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("config %s was removed with the source definition and could not be written back: %v", real, err)
		}
		return nil
	}
}

func orDefault(uri string) string {
	if uri == "" {
		return "chosen by libvirt"
	}
	return uri
}

func limits(s MigrateSpec) string {
	var parts []string
	if s.Bandwidth > 0 {
		parts = append(parts, fmt.Sprintf("bandwidth %d MiB/s", s.Bandwidth))
	}
	if s.Downtime > 0 {
		parts = append(parts, fmt.Sprintf("max downtime %d ms", s.Downtime))
	}
	if len(parts) == 0 {
		return "no limits"
	}
	return strings.Join(parts, ", ")
}

func downtime(s MigrateStats) string {
	if !s.DowntimeSet {
		return "unknown"
	}
	return s.Downtime.String()
}

func migrateFrom(ctx context.Context, a *action) error {
	_, _, err := a.status(ctx)
	if err != nil && a.r.Meta.MigrateSource == "" {
		// Not a migration Pacemaker runs (ocf-tester calls migrate_from on
		// a stopped resource): no domain is on its way.
		return ocf.Generic("domain %s is not running here and no migration source is given (CRM_meta_migrate_source)", a.name)
	}
	if err := a.waitRunning(ctx, "the migration from "+a.r.Meta.MigrateSource); err != nil {
		return err
	}
	a.r.Log.Infof("domain %s: live migration from %s succeeded", a.name, a.r.Meta.MigrateSource)
	if a.cfg.SaveConfig {
		if d, err := a.lookup(ctx); err == nil && d != nil {
			a.saveConfig(ctx, d)
		}
	}
	return nil
}

// hungError is a libvirt call that did not answer within the budget.
type hungError struct{ what string }

func (e *hungError) Error() string {
	return "libvirt did not answer in time (" + e.what + ")"
}

func shown(uri string) string {
	if uri == "" {
		return "the default libvirt URI"
	}
	return uri
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
