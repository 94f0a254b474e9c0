// Package exportfs is ocf:paceline:exportfs, which exports directories
// over NFS on start and withdraws them on stop: a drop-in replacement for
// ocf:heartbeat:exportfs.
package exportfs

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	return &ocf.Agent{Meta: Metadata(), Handlers: ocf.Actions(start, stop, monitor, validate)}
}

// record is the state file that says this node started the resource,
// holding the canonical directories it exported (one a line), as
// upstream's ha_pseudo_resource file says the first.
func record(r *ocf.Request) string { return "exportfs-" + r.Instance }

// rmtabCache is what the last rmtab backup wrote, so that a monitor
// writes again only when the clients' entries changed.
func rmtabCache(r *ocf.Request) string { return record(r) + ".rmtab" }

// recorded returns the directories the start on this node exported, or
// nil when it did not start here.
func recorded(r *ocf.Request) []string {
	data, err := r.ReadState(record(r))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

func readTable() []Export {
	data, _ := os.ReadFile(etabPath) // no table: nothing exported
	return ParseEtab(data)
}

// missing returns the first directory not exported to the client.
func missing(table []Export, dirs []string, client string) (string, bool) {
	for _, d := range dirs {
		if !exported(table, d, client) {
			return d, true
		}
	}
	return "", false
}

func monitor(ctx context.Context, r *ocf.Request) error {
	c, err := ParseConfig(r)
	if err != nil {
		return err
	}
	dirs := recorded(r)
	if dirs == nil {
		return ocf.Stopped("")
	}
	if d, ok := missing(readTable(), dirs, c.ClientKey()); ok {
		if r.Probe {
			r.Log.Infof("%s not exported to %s (stopped)", d, c.ClientKey())
		} else {
			r.Log.Errorf("%s not exported to %s (stopped)", d, c.ClientKey())
		}
		return ocf.Stopped("")
	}
	backupRmtab(ctx, r, c, dirs)
	return nil
}

// backupRmtab keeps each directory's rmtab backup up to date, writing
// only when the entries changed since the last backup.
func backupRmtab(ctx context.Context, r *ocf.Request, c *Config, dirs []string) {
	if c.backupFile("/") == "" {
		return
	}
	rmtab, _ := os.ReadFile(rmtabPath)
	var all bytes.Buffer
	for _, d := range dirs {
		all.WriteString(d + "\x00")
		all.Write(rmtabFor(rmtab, d))
	}
	if cached, err := r.ReadState(rmtabCache(r)); err == nil && bytes.Equal(cached, all.Bytes()) {
		return
	}
	for _, d := range dirs {
		if _, err := runFS(ctx, "-write", c.backupFile(d), "-content", string(rmtabFor(rmtab, d))); err != nil {
			r.Log.Warnf("rmtab backup %s: %v", c.backupFile(d), err)
			return
		}
	}
	_ = r.WriteState(rmtabCache(r), all.Bytes())
}

func validate(ctx context.Context, r *ocf.Request) error {
	if _, err := ParseConfig(r); err != nil {
		return err
	}
	if _, err := ocf.LookPath("exportfs"); err != nil {
		return ocf.NotInstalled("exportfs is not installed (nfs-kernel-server)")
	}
	return nil
}

func start(ctx context.Context, r *ocf.Request) error {
	if err := validate(ctx, r); err != nil {
		return err
	}
	c, _ := ParseConfig(r)
	dirs, err := resolve(ctx, c.Dirs)
	if err != nil {
		return err
	}
	if _, ok := missing(readTable(), dirs, c.ClientKey()); !ok && recorded(r) != nil {
		r.Log.Debugf("already exported")
		return nil
	}
	r.Log.Infof("exporting %s to %s", strings.Join(dirs, " "), c.Client)
	if err := r.WriteState(record(r), []byte(strings.Join(dirs, "\n")+"\n")); err != nil {
		return ocf.Generic("cannot record the export in %s: %v", r.StatePath(record(r)), err)
	}
	for i, fsid := range c.FSIDs() {
		args := []string{"-v"}
		if o := ExportOptions(c.Options, fsid); o != "" {
			args = append(args, "-o", o)
		}
		args = append(args, c.Client+":"+dirs[i])
		out, err := ocf.Helper{Path: "exportfs", Args: args}.Run(ctx)
		if err != nil {
			return ocf.Generic("exportfs failed - exportfs %s: %v %s", strings.Join(args, " "), err, out.LastLine())
		}
		r.Log.Infof("directory %s exported", dirs[i])
	}
	if c.backupFile("/") != "" {
		restoreRmtab(ctx, r, c, dirs)
	}
	return nil
}

// restoreRmtab merges each directory's rmtab backup into the rmtab, so
// that NFSv3 clients over TCP that mounted it on the other node are
// known here.
func restoreRmtab(ctx context.Context, r *ocf.Request, c *Config, dirs []string) {
	merged, _ := os.ReadFile(rmtabPath)
	for _, d := range dirs {
		out, err := runFS(ctx, "-read", c.backupFile(d))
		if err != nil {
			r.Log.Warnf("rmtab backup %s not found or not readable: %v", c.backupFile(d), err)
			continue
		}
		merged = mergeRmtab(merged, out)
	}
	if err := ocf.WriteFileAtomic(rmtabPath, merged, 0o644); err != nil {
		r.Log.Warnf("restoring %s: %v", rmtabPath, err)
	}
}

func stop(ctx context.Context, r *ocf.Request) error {
	c, err := ParseConfig(r)
	if err != nil {
		// Nothing can have been exported with a configuration that cannot
		// be read; a failed stop would get the node fenced.
		r.Log.Warnf("stop with an invalid configuration, nothing to do: %v", err)
		return nil
	}
	dirs := recorded(r)
	if dirs == nil {
		// Not started here; withdraw what the configuration names, if it
		// is exported, without touching the directories.
		dirs = c.Dirs
	}
	table := readTable()
	any := false
	for _, d := range dirs {
		any = any || exported(table, d, c.ClientKey())
	}
	if !any {
		r.Log.Debugf("not exported")
		_ = r.RemoveState(record(r))
		return nil
	}
	r.Log.Infof("un-exporting %s", strings.Join(dirs, " "))
	backupRmtab(ctx, r, c, dirs)
	var failed []string
	for _, d := range dirs {
		out, err := ocf.Helper{Path: "exportfs", Args: []string{"-v", "-u", c.Client + ":" + d}}.Run(ctx)
		if err != nil {
			failed = append(failed, d+": "+err.Error()+" "+out.LastLine())
		}
	}
	if c.UnlockOnStop {
		unlock(ctx, r, dirs)
	}
	if c.WaitLease {
		waitLease(ctx, r)
	}
	if len(failed) > 0 {
		return ocf.Generic("failed to un-export %s", strings.Join(failed, "; "))
	}
	if err := flushCache(ctx, c); err != nil {
		return err
	}
	_ = r.RemoveState(record(r))
	_ = r.RemoveState(rmtabCache(r))
	r.Log.Infof("un-exported %s", strings.Join(dirs, " "))
	return nil
}

// unlock has the kernel drop the NFS locks on each directory's
// filesystem; the kernel looks the path up, so it runs in a child.
func unlock(ctx context.Context, r *ocf.Request, dirs []string) {
	if f, err := os.OpenFile(unlockPath, os.O_WRONLY, 0); err != nil {
		r.Log.Warnf("unable to unlock NFS export %s, %s not found or not writable", strings.Join(dirs, " "), unlockPath)
		return
	} else {
		f.Close()
	}
	for _, d := range dirs {
		if _, err := runFS(ctx, "-unlock", d); err != nil {
			r.Log.Warnf("unlocking %s: %v", d, err)
			continue
		}
		r.Log.Infof("unlocked NFS export %s", d)
	}
}

// waitLease waits the NFSv4 lease time and 2 s, but never past the
// stop's deadline (which keeps its margin before Pacemaker's timeout).
func waitLease(ctx context.Context, r *ocf.Request) {
	data, err := os.ReadFile(leasePath)
	secs, perr := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || perr != nil {
		r.Log.Warnf("unable to read the NFSv4 lease time from %s", leasePath)
		return
	}
	wait := time.Duration(secs+2) * time.Second
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < wait {
			r.Log.Warnf("the stop timeout leaves %v of the NFSv4 lease wait (%v); give stop more time", left.Round(time.Second), wait)
			wait = max(left, 0)
		}
	}
	r.Log.Infof("sleeping %v to accommodate for NFSv4 lease expiry", wait)
	_ = ocf.Sleep(ctx, wait)
}

// flushCache has exportfs flush the kernel's export cache until it no
// longer holds this resource's fsids (a cached export keeps the
// filesystem busy), until the stop must end.
func flushCache(ctx context.Context, c *Config) error {
	var marks [][]byte
	for _, f := range c.FSIDs() {
		if f != "" {
			marks = append(marks, []byte("fsid="+f+","))
		}
	}
	for try := 1; len(marks) > 0; try++ {
		content, _ := os.ReadFile(cachePath)
		held := false
		for _, m := range marks {
			held = held || bytes.Contains(content, m)
		}
		if !held {
			return nil
		}
		if _, err := (ocf.Helper{Path: "exportfs", Args: []string{"-f"}}).Run(ctx); err != nil && ctx.Err() == nil {
			return ocf.Generic("exportfs -f: %v", err)
		}
		if !ocf.Sleep(ctx, 500*time.Millisecond) {
			return ocf.Generic("the kernel's export cache still holds the export after %d flushes", try)
		}
	}
	return nil
}
