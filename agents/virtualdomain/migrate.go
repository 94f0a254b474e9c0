package virtualdomain

import (
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

// migrateTo moves the running domain live to the target node Pacemaker
// names, persistent there and undefined here. The migration is aborted
// at AbortAt, so that a migration that cannot finish leaves the domain
// running here before the action's timeout.
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
		rhv, err := dialLibvirt(ctx, remote, false)
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

// migrateFrom waits, on the target, until the domain migrate_to sent
// runs here.
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

// orDefault is the memory stream's URI as the log shows it.
func orDefault(uri string) string {
	if uri == "" {
		return "chosen by libvirt"
	}
	return uri
}

// limits is the migration's bandwidth and downtime as the log shows them.
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

// downtime is the downtime libvirt measured, as the log shows it.
func downtime(s MigrateStats) string {
	if !s.DowntimeSet {
		return "unknown"
	}
	return s.Downtime.String()
}
