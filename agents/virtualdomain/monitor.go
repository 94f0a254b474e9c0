package virtualdomain

import (
	"context"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// monitor reports the domain's state (StatusOf), runs monitor_scripts on
// a running domain, and keeps the utilization attributes and, with
// save_config_on_stop, the config file up to date. On the local socket it
// goes over the fast path (rpc.go): no program started, no libvirt
// loaded.
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

// waitRunning polls until the domain runs and the monitor scripts pass:
// the end of start, restore and migrate_from. what names the step in the
// reason when the time runs out first.
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
		if !ocf.Sleep(ctx, 250*time.Millisecond) {
			return ocf.Generic("domain %s is not running in time after %s: %s", a.name, what, ocf.ReasonOf(last))
		}
	}
}
