package virtualdomain

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// saveConfig writes the domain's inactive XML back to config when it
// differs (save_config_on_stop), then syncs it with csync2 when asked.
// Failures are logged: they never fail the action, as upstream.
func (a *action) saveConfig(ctx context.Context, d Domain) {
	x, err := d.InactiveXML(ctx)
	if err != nil || strings.TrimSpace(x) == "" {
		a.r.Log.Warnf("cannot read the configuration of domain %s to save it: %v", a.name, err)
		return
	}
	if bytes.Equal([]byte(x), a.doc) {
		return
	}
	if name, err := DomainName([]byte(x)); err != nil || name != a.name {
		a.r.Log.Warnf("the configuration libvirt returned for %s does not look right; %s left alone", a.name, a.cfg.File)
		return
	}
	if err := replaceFile(a.cfg.File, []byte(x)); err != nil {
		a.r.Log.Warnf("cannot save the configuration of domain %s to %s: %v", a.name, a.cfg.File, err)
		return
	}
	a.doc = []byte(x)
	a.r.Log.Infof("saved the configuration of domain %s to %s", a.name, a.cfg.File)
	if a.cfg.SyncConfig {
		if out, err := (ocf.Helper{Path: "csync2", Args: []string{"-x", a.cfg.File}}).Run(ctx); err != nil {
			a.r.Log.Warnf("syncing %s with csync2 failed: %v: %s", a.cfg.File, err, strings.TrimSpace(string(out.Stdout)))
		}
	}
}

// replaceFile writes data over path keeping its permissions.
func replaceFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	return ocf.WriteFileAtomic(path, data, mode)
}

// Utilization

// UtilValues are the utilization attributes a running domain should have;
// a name mapped to "" is to be deleted.
func UtilValues(settings [3]UtilSetting, in Info) map[string]string {
	out := map[string]string{}
	for _, u := range settings {
		switch {
		case u.Set && u.Name == "cpu":
			out[u.Name] = strconv.Itoa(in.VCPUs)
		case u.Set:
			out[u.Name] = strconv.FormatUint(in.MaxMemKiB/1024, 10)
		case u.Unset:
			out[u.Name] = ""
		}
	}
	return out
}

// UtilChanges returns the attributes whose wanted value differs from the
// last one written (from the cache), sorted by name.
func UtilChanges(want, cached map[string]string) []string {
	var names []string
	for k, v := range want {
		if c, ok := cached[k]; !ok || c != v {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// utilizationState is the state file in HA_RSCTMP with the values last
// written.
func (a *action) utilizationState() string {
	return "VirtualDomain-" + a.r.Instance + ".utilization"
}

func (a *action) removeUtilizationCache() { _ = a.r.RemoveState(a.utilizationState()) }

// parseUtilCache reads the state file's name=value lines.
func parseUtilCache(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = v
		}
	}
	return out
}

// formatUtilCache writes the state file's lines, sorted by name.
func formatUtilCache(m map[string]string) []byte {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return []byte(b.String())
}

// updateUtilization keeps the resource's utilization attributes equal to
// the domain's size. The values last written are cached in HA_RSCTMP, so
// crm_resource runs only when a value changes (and once after a start),
// never on a quiet monitor. Failures are logged, never fatal.
func (a *action) updateUtilization(ctx context.Context, d Domain) {
	need := false
	for _, u := range a.cfg.Util {
		need = need || u.Set || u.Unset
	}
	if !need || d == nil {
		return
	}
	info, err := d.Info(ctx)
	if err != nil {
		a.r.Log.Debugf("cannot read the size of domain %s for the utilization: %v", a.name, err)
		return
	}
	want := UtilValues(a.cfg.Util, info)
	data, _ := a.r.ReadState(a.utilizationState()) // none yet: all is new
	cached := parseUtilCache(data)
	changed := UtilChanges(want, cached)
	if len(changed) == 0 {
		return
	}
	if !cibReachable() {
		a.r.Log.Debugf("utilization of %s not updated: the CIB is not available", a.r.Instance)
		return
	}
	for _, name := range changed {
		args := []string{"-r", a.r.Instance, "-z"}
		if v := want[name]; v != "" {
			args = append(args, "-p", name, "-v", v)
		} else {
			args = append(args, "-d", name)
		}
		if out, err := (ocf.Helper{Path: "crm_resource", Args: args}).Run(ctx); err != nil {
			a.r.Log.Warnf("crm_resource could not update the utilization attribute %s: %v: %s", name, err, strings.TrimSpace(string(out.Stdout)))
			continue
		}
		cached[name] = want[name]
		a.r.Log.Infof("utilization %s of %s set to %q", name, a.r.Instance, want[name])
	}
	_ = a.r.WriteState(a.utilizationState(), formatUtilCache(cached))
}

// cibReachable tells, without starting a program, whether Pacemaker's CIB
// listens in this network namespace (its IPC is the abstract socket
// @cib_rw).
func cibReachable() bool {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return true // cannot tell: let crm_resource find out
	}
	return bytes.Contains(data, []byte(" @cib_rw\n"))
}
