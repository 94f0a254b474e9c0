package virtualdomain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// migrateParams are a migration over a dedicated network with limits.
var migrateParams = map[string]string{
	"migration_transport": "tcp", "migration_network_suffix": "-mig", "migrateport": "50000",
	"migration_speed": "50", "migration_downtime": "200", "migrate_options": "--p2p --auto-converge",
}

var toNode2 = map[string]string{"migrate_target": "node2"}

// A migration that works: libvirt is given the URIs, bandwidth, downtime
// and flags the parameters ask for, and an abort time that keeps the
// abort reserve (AbortAt) before the deadline.
func TestMigrateTo(t *testing.T) {
	hv := newFakeHV()
	d := hv.add("vm1", uuid1, Running)
	c := actionCase{action: "migrate_to", config: domainXML(uuid1), params: migrateParams, meta: toNode2, budget: 120 * time.Second}
	var deadline time.Time
	log, err := runOn(t, hv, c, func(ctx context.Context, a *action) error {
		deadline = a.r.Deadline
		return migrateTo(ctx, a)
	})
	checkResult(t, err, ocf.Success, "")
	checkCalls(t, hv, "migrate vm1")
	if len(d.migrations) != 1 {
		t.Fatalf("%d migrations", len(d.migrations))
	}
	m := d.migrations[0]
	want := MigrateSpec{RemoteURI: "qemu+tcp://node2-mig/system", URI: "tcp:node2-mig:50000", Bandwidth: 50, Downtime: 200,
		Opts: MigrateOptions{P2P: true, AutoConverge: true}, AbortAt: m.AbortAt}
	if m != want {
		t.Errorf("migration %+v, want %+v", m, want)
	}
	// A tenth of 120 s is more than abortMax: the reserve is abortMax.
	if deadline.Sub(m.AbortAt) != abortMax {
		t.Errorf("aborted at %s before the deadline, want %s", deadline.Sub(m.AbortAt), abortMax)
	}
	if _, ok := hv.domains["vm1"]; ok {
		t.Error("the domain is still defined on the source")
	}
	checkLog(t, log,
		"INFO: domain vm1: live migration to node2 (libvirt qemu+tcp://node2-mig/system, stream tcp:node2-mig:50000, bandwidth 50 MiB/s, max downtime 200 ms)",
		"INFO: domain vm1: live migration to node2 succeeded in 1.5s, downtime 40ms")
}

// TestMigrateToFails: migrate_to's failures, and where it says the domain
// is afterwards.
func TestMigrateToFails(t *testing.T) {
	refused := errors.New("unable to connect to server at 'node2-mig:50000': Connection refused")
	tests := []struct {
		name       string
		state      State // Undefined: libvirt does not know the domain
		meta       map[string]string
		migrateErr error
		after      State // the domain's state after the failed migration
		reason     string
	}{
		{name: "libvirt fails, the domain still runs here", state: Running, meta: toNode2, migrateErr: refused, after: Running,
			reason: "migration to node2 failed, domain still runs here: unable to connect to server at 'node2-mig:50000': Connection refused"},
		{name: "libvirt fails, the domain is off here", state: Running, meta: toNode2, migrateErr: refused, after: ShutOff,
			reason: "migration to node2 failed, domain is shut off here: unable to connect"},
		{name: "not running here", state: ShutOff, meta: toNode2,
			reason: "domain vm1: migrate_to: not active locally"},
		{name: "not defined here", state: Undefined, meta: toNode2,
			reason: "domain vm1: migrate_to: not active locally"},
		{name: "no target", state: Running,
			reason: "domain vm1: migrate_to needs the target node (CRM_meta_migrate_target is not set)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hv := newFakeHV()
			if tt.state != Undefined {
				d := hv.add("vm1", uuid1, tt.state)
				d.migrate = func(context.Context, MigrateSpec) error {
					d.state = tt.after
					return tt.migrateErr
				}
			}
			c := actionCase{action: "migrate_to", config: domainXML(uuid1), params: migrateParams, meta: tt.meta}
			_, err := runOn(t, hv, c, migrateTo)
			checkResult(t, err, ocf.ErrGeneric, tt.reason)
		})
	}
}

// A migration that does not finish is aborted at AbortAt, which keeps
// the abort reserve (5 s at the least) of the budget, and migrate_to
// reports the domain still running on the source, before its deadline.
func TestMigrateToAbortsBeforeTheBudget(t *testing.T) {
	hv := newFakeHV()
	d := hv.add("vm1", uuid1, Running)
	// What libvirt.go's Migrate does with a migration that does not
	// converge: it aborts the job at AbortAt.
	var abortedAt time.Time
	d.migrate = func(ctx context.Context, m MigrateSpec) error {
		select {
		case <-time.After(time.Until(m.AbortAt)):
			abortedAt = time.Now()
			return ErrMigrationAborted
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := actionCase{action: "migrate_to", config: domainXML(uuid1), params: migrateParams, meta: toNode2,
		budget: abortMin + 800*time.Millisecond}
	var deadline time.Time
	_, err := runOn(t, hv, c, func(ctx context.Context, a *action) error {
		deadline = a.r.Deadline
		return migrateTo(ctx, a)
	})
	checkResult(t, err, ocf.ErrGeneric,
		"migration to node2 failed, domain still runs here: the migration did not finish in time and was aborted")
	if abortedAt.IsZero() {
		t.Fatal("the migration was not aborted")
	}
	if left := deadline.Sub(abortedAt); left < abortMin-50*time.Millisecond {
		t.Errorf("aborted with %s left, want %s kept for the abort", left, abortMin)
	}
	if ended := time.Now(); !ended.Before(deadline) {
		t.Errorf("migrate_to ended %s after its deadline", ended.Sub(deadline))
	}
	if d.state != Running {
		t.Errorf("after the aborted migration the domain is %s here", d.state)
	}
}
