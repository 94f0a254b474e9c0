// Package nfsserver is ocf:paceline:nfsserver, which runs the kernel's
// NFS server with its state on storage that moves with the service: a
// drop-in replacement for ocf:heartbeat:nfsserver.
package nfsserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Agent returns the OCF agent.
func Agent() *ocf.Agent {
	return &ocf.Agent{Meta: Metadata(), Handlers: ocf.Actions(start, stop, monitor, validate)}
}

// systemdRuntime exists while systemd runs the machine.
var systemdRuntime = "/run/systemd/system"

// manager is how the server is started and stopped on this host.
type manager interface {
	start(ctx context.Context, r *ocf.Request, c *Config) error
	stop(ctx context.Context, r *ocf.Request, c *Config) error
}

func managerFor(c *Config) manager {
	switch {
	case c.InitScript != "":
		return initScript{}
	case isDir(systemdRuntime):
		return systemdUnits{}
	}
	return ownDaemons{}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func validate(ctx context.Context, r *ocf.Request) error {
	c, err := ParseConfig(r)
	if err != nil {
		return err
	}
	if c.InitScript != "" {
		if st, err := os.Stat(c.InitScript); err != nil || st.Mode()&0o111 == 0 {
			return ocf.NotInstalled("nfs_init_script %s is not an executable", c.InitScript)
		}
	}
	// nfs_notify_cmd is the stock agent's hidden parameter: it checks it
	// and never runs it (sm-notify always sends the notifications), and so
	// does this one, so that a configuration that sets it behaves alike.
	if cmd := r.Param("nfs_notify_cmd"); cmd != "" {
		if _, err := ocf.LookPath(cmd); err != nil {
			return ocf.NotInstalled("nfs_notify_cmd %s is not installed", cmd)
		}
		if base := filepath.Base(cmd); base != "sm-notify" && base != "rpc.statd" {
			return ocf.NotConfigured("invalid nfs_notify_cmd %s: only sm-notify or rpc.statd", cmd)
		}
	}
	for _, p := range []string{"rpc.nfsd", "exportfs"} {
		if _, err := ocf.LookPath(p); err != nil {
			return ocf.NotInstalled("%s is not installed (nfs-kernel-server)", p)
		}
	}
	return nil
}

// verdict is monitor's reading of a Status: nil when the server runs as
// configured.
func verdict(c *Config, st Status) error {
	switch {
	case st.Threads <= 0:
		return ocf.Stopped("")
	case !st.SharedOK:
		return ocf.Generic("the NFS server runs without its shared state: %s", st.SharedWhy)
	case !c.V4Only && len(st.Daemons[statd]) == 0:
		return ocf.Generic("NFS server is up, but the locking daemons are down (no rpc.statd)")
	case !c.V4Only && len(st.Daemons[rpcbind]) == 0:
		return ocf.Generic("NFS server is up, but rpcbind is not running")
	case len(st.Daemons[mountd]) == 0:
		return ocf.Generic("NFS server is up, but rpc.mountd is not running: clients cannot mount")
	}
	return nil
}

func monitor(ctx context.Context, r *ocf.Request) error {
	c, err := ParseConfig(r)
	if err != nil {
		return err
	}
	return verdict(c, observe(c))
}

func start(ctx context.Context, r *ocf.Request) error {
	if err := validate(ctx, r); err != nil {
		return err
	}
	c, _ := ParseConfig(r)
	if verdict(c, observe(c)) == nil {
		r.Log.Infof("NFS server is already running")
		return nil
	}
	if err := bindState(r, c); err != nil {
		return err
	}
	if n, err := restoreMonitorList(stateDir); err != nil {
		r.Log.Warnf("restoring statd's monitor list from %s: %v", savedDir, err)
	} else if n > 0 {
		r.Log.Infof("%d NFSv3 clients restored to statd's monitor list from the last stop", n)
	}
	if err := managerFor(c).start(ctx, r, c); err != nil {
		return err
	}
	st := observe(c)
	if err := verdict(c, st); err != nil {
		return ocf.Generic("the NFS server did not come up: %v", err)
	}
	if !c.NoNotify && !c.V4Only {
		unnamedIPs(ctx, r, c)
		if c.NotifyForeground {
			notifyClients(ctx, r, c)
		} else if err := startNotifier(r, c); err != nil {
			r.Log.Warnf("notifying the NFSv3 clients: %v", err)
		}
	}
	r.Log.Infof("NFS server started: %d nfsd threads", st.Threads)
	return nil
}

func stop(ctx context.Context, r *ocf.Request) error {
	c, err := ParseConfig(r)
	if err != nil {
		r.Log.Warnf("stop with an invalid configuration: %v; stopping the NFS server anyway", err)
		c = &Config{PipefsDir: "/var/lib/nfs/rpc_pipefs", RetryMinutes: -1}
	}
	if observe(c).Threads > 0 {
		if err := saveMonitorList(stateDir); err != nil {
			r.Log.Warnf("saving statd's monitor list to %s: %v; NFSv3 clients may not reclaim their locks", savedDir, err)
		}
	}
	if err := managerFor(c).stop(ctx, r, c); err != nil {
		return err
	}
	if st := observe(c); st.Threads > 0 {
		return ocf.Generic("nfsd still has %d threads after the stop", st.Threads)
	}
	return unbindState(ctx, r, c)
}

// notifyClients runs sm-notify once per service address (once without
// one): NFSv3 clients in the monitor list reclaim their locks here.
func notifyClients(ctx context.Context, r *ocf.Request, c *Config) {
	ips := c.IPs
	if len(ips) == 0 {
		ips = []string{""}
	}
	for _, ip := range ips {
		args := c.NotifyArgs(ip)
		if _, err := (ocf.Helper{Path: "sm-notify", Args: args}).Run(ctx); err != nil {
			r.Log.Warnf("sm-notify %s: %v", strings.Join(args, " "), err)
		}
	}
}
