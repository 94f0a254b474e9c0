package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// What the actions need from libvirt. Three implementations: libvirt's
// own client (libvirt.go, cgo build only), the monitor's fast path
// (rpc.go, read-only), and the fake of the unit tests.

// Hypervisor is one libvirt connection. Every method returns when ctx
// ends, answered or not.
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
	// Migrate moves the running domain live to m.RemoteURI, persistent
	// there and undefined here, and aborts it at m.AbortAt if it has not
	// finished (ErrMigrationAborted). log reports its progress.
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

// hungError is a libvirt call that did not answer within the budget.
type hungError struct{ what string }

func (e *hungError) Error() string {
	return "libvirt did not answer in time (" + e.what + ")"
}

// progress is one line of a migration's progress for the log.
func progress(s MigrateStats) string {
	pct := 0.0
	if s.MemTotal > 0 {
		pct = 100 * float64(s.MemProcessed) / float64(s.MemTotal)
	}
	return fmt.Sprintf("%.0f%% of %d MiB sent, %d MiB left, iteration %d, %.1f MiB/s, %s elapsed",
		pct, s.MemTotal>>20, s.MemRemaining>>20, s.Iteration, float64(s.MemBps)/(1<<20), s.Elapsed.Round(time.Millisecond))
}
