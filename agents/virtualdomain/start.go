package virtualdomain

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// start restores the domain from its snapshot file when there is one,
// else defines it from config (replacing the definition libvirt has, see
// definition) and starts it, then waits until it runs.
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
	// The undefine deletes libvirt's copy of the XML, which config may be.
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
