package virtualdomain

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// fakeHV is a libvirt daemon in memory for the actions' unit tests: the
// domains it knows, libvirt's rules where the actions depend on them (a
// name is defined under one uuid; a definition without a uuid gets a new
// one), failures to inject, and every call that changes something, in
// order ("define vm1", "shutdown vm1 acpi", ...).
type fakeHV struct {
	domains   map[string]*fakeDomain
	calls     []string
	defineErr error
	uuids     int // made up so far
}

func newFakeHV() *fakeHV { return &fakeHV{domains: map[string]*fakeDomain{}} }

// fakeDomain is a domain of fakeHV and how its guest behaves.
type fakeDomain struct {
	hv    *fakeHV
	name  string
	uuid  string
	xml   string // the inactive definition
	state State

	startErr, undefineErr error
	ignoresShutdown       bool // a guest without ACPI, or still booting
	ignoresDestroy        bool // qemu stuck in the kernel
	// migrate runs in place of a migration that succeeds at once.
	migrate    func(ctx context.Context, m MigrateSpec) error
	migrations []MigrateSpec

	shutdowns   []time.Time
	destroyedAt time.Time
}

// add defines a domain with this uuid in this state.
func (hv *fakeHV) add(name, uuid string, s State) *fakeDomain {
	d := &fakeDomain{hv: hv, name: name, uuid: uuid, state: s,
		xml: "<domain type='qemu'><name>" + name + "</name><uuid>" + uuid + "</uuid></domain>"}
	hv.domains[name] = d
	return d
}

func (hv *fakeHV) record(format string, args ...any) {
	hv.calls = append(hv.calls, fmt.Sprintf(format, args...))
}

func (hv *fakeHV) URI(context.Context) (string, error) { return "qemu:///system", nil }

func (hv *fakeHV) Lookup(_ context.Context, name string) (Domain, error) {
	if d, ok := hv.domains[name]; ok {
		return d, nil
	}
	return nil, ErrNoDomain
}

func (hv *fakeHV) Define(_ context.Context, xml string) (Domain, error) {
	name, err := DomainName([]byte(xml))
	if err != nil {
		return nil, err
	}
	hv.record("define %s", name)
	if hv.defineErr != nil {
		return nil, hv.defineErr
	}
	uuid, _ := DomainUUID([]byte(xml))
	if uuid == "" {
		hv.uuids++
		uuid = fmt.Sprintf("00000000-0000-4000-8000-%012d", hv.uuids)
		if xml2, err := WithUUID([]byte(xml), uuid); err == nil {
			xml = string(xml2)
		}
	}
	d := hv.domains[name]
	if d != nil && !SameUUID(d.uuid, uuid) {
		return nil, fmt.Errorf("operation failed: domain '%s' already exists with uuid %s", name, d.uuid)
	}
	if d == nil {
		d = hv.add(name, uuid, ShutOff)
	}
	d.xml = xml
	return d, nil
}

func (hv *fakeHV) Restore(_ context.Context, file string) error {
	hv.record("restore %s", file)
	return nil
}

func (hv *fakeHV) StartPool(_ context.Context, name string) error {
	hv.record("start pool %s", name)
	return nil
}

func (hv *fakeHV) StartNetwork(_ context.Context, name string) error {
	hv.record("start network %s", name)
	return nil
}

func (hv *fakeHV) Close() {}

func (d *fakeDomain) State(context.Context) (State, error) { return d.state, nil }

func (d *fakeDomain) Info(context.Context) (Info, error) {
	return Info{VCPUs: 2, MaxMemKiB: 1 << 20}, nil
}

func (d *fakeDomain) Start(context.Context) error {
	d.hv.record("start %s", d.name)
	if d.startErr != nil {
		return d.startErr
	}
	d.state = Running
	return nil
}

func (d *fakeDomain) Shutdown(_ context.Context, modes []string) error {
	d.hv.record("shutdown %s%s", d.name, strings.Join(append([]string{""}, modes...), " "))
	d.shutdowns = append(d.shutdowns, time.Now())
	if !d.ignoresShutdown {
		d.state = ShutOff
	}
	return nil
}

func (d *fakeDomain) Destroy(context.Context) error {
	d.hv.record("destroy %s", d.name)
	d.destroyedAt = time.Now()
	if !d.ignoresDestroy {
		d.state = ShutOff
	}
	return nil
}

func (d *fakeDomain) Save(_ context.Context, file string) error {
	d.hv.record("save %s %s", d.name, file)
	d.state = ShutOff
	return nil
}

func (d *fakeDomain) InactiveXML(context.Context) (string, error) { return d.xml, nil }

func (d *fakeDomain) Undefine(context.Context) error {
	d.hv.record("undefine %s", d.name)
	if d.undefineErr != nil {
		return d.undefineErr
	}
	delete(d.hv.domains, d.name)
	d.state = Undefined
	return nil
}

// Migrate succeeds at once unless d.migrate says otherwise; a domain that
// left is undefined here, as with --undefinesource.
func (d *fakeDomain) Migrate(ctx context.Context, m MigrateSpec, _ func(string, ...any)) (MigrateStats, error) {
	d.hv.record("migrate %s", d.name)
	d.migrations = append(d.migrations, m)
	if d.migrate != nil {
		if err := d.migrate(ctx, m); err != nil {
			return MigrateStats{}, err
		}
	}
	delete(d.hv.domains, d.name)
	d.state = Undefined
	return MigrateStats{Elapsed: 1500 * time.Millisecond, Downtime: 40 * time.Millisecond, DowntimeSet: true}, nil
}

// request is the Request an executor would give the agent for action.
func request(t *testing.T, action string, params map[string]string) *ocf.Request {
	t.Helper()
	return ocf.NewRequest(Agent(), "vm1", action, params, nil)
}

// actionCase is one action to run on a fakeHV.
type actionCase struct {
	action string
	config string            // the XML of the config file
	params map[string]string // besides config
	meta   map[string]string
	budget time.Duration // until the action's deadline; 20 s when 0
}

// runOn builds the action as run does (newAction: the parameters and the
// config file), on hv instead of a libvirt connection, and runs act
// within the budget; with hv nil, it runs act through run, which
// connects as the agent does. It returns the action's log lines (debug
// ones too) and its result.
func runOn(t *testing.T, hv *fakeHV, c actionCase, act func(context.Context, *action) error) (string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "vm1.xml")
	if err := os.WriteFile(file, []byte(c.config), 0o644); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"config": file}
	for k, v := range c.params {
		params[k] = v
	}
	r := ocf.NewRequest(Agent(), "vm1", c.action, params, c.meta)
	var log bytes.Buffer
	r.Log = ocf.NewLogger([]string{"HA_LOGFACILITY=none", "HA_debug=1"}, "VirtualDomain(vm1)", &log)
	r.StateDir = t.TempDir()
	if c.budget == 0 {
		c.budget = 20 * time.Second
	}
	r.Deadline = time.Now().Add(c.budget)
	ctx, cancel := context.WithDeadline(context.Background(), r.Deadline)
	defer cancel()
	if hv == nil {
		err := run(ctx, r, act)
		return log.String(), err
	}
	a, err := newAction(r)
	if err != nil {
		t.Fatalf("newAction: %v", err)
	}
	a.hv = hv
	err = act(ctx, a)
	return log.String(), err
}

// checkResult compares an action's result with the exit code and a part
// of the reason it should have.
func checkResult(t *testing.T, err error, code ocf.Status, reason string) {
	t.Helper()
	if got := ocf.CodeOf(err); got != code {
		t.Fatalf("exit code %s (%v), want %s", got, err, code)
	}
	if !strings.Contains(ocf.ReasonOf(err), reason) {
		t.Errorf("reason %q, want it to contain %q", ocf.ReasonOf(err), reason)
	}
}

func checkCalls(t *testing.T, hv *fakeHV, want ...string) {
	t.Helper()
	if strings.Join(hv.calls, "; ") != strings.Join(want, "; ") {
		t.Errorf("libvirt calls %q, want %q", hv.calls, want)
	}
}

func checkLog(t *testing.T, log string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("log without %q:\n%s", w, log)
		}
	}
}
