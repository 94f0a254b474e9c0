package nfsserver

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// nfsdThreads is how many nfsd threads the agent starts itself (Debian's
// default).
const nfsdThreads = 8

// run runs a program of the NFS tools, bounded by ctx.
func run(ctx context.Context, name string, args ...string) error {
	out, err := ocf.Helper{Path: name, Args: args}.Run(ctx)
	if err != nil {
		return ocf.Generic("%s %v: %v %s", name, args, err, out.LastLine())
	}
	return nil
}

// ownDaemons starts and stops the server's daemons itself: the host has
// no systemd (a container, a minimal node) and no init script is given.
type ownDaemons struct{}

func (ownDaemons) start(ctx context.Context, r *ocf.Request, c *Config) error {
	if err := mountIfMissing("/proc/fs/nfsd", "nfsd", "nfsd"); err != nil {
		return ocf.Generic("mounting the nfsd filesystem: %v", err)
	}
	if err := mountIfMissing(c.PipefsDir, "sunrpc", "rpc_pipefs"); err != nil {
		r.Log.Warnf("mounting rpc_pipefs on %s: %v", c.PipefsDir, err)
	}
	d := daemons()
	if !c.V4Only {
		if len(d[rpcbind]) == 0 {
			if err := run(ctx, "rpcbind", "-w"); err != nil {
				return err
			}
		}
		if len(d[statd]) == 0 {
			if err := run(ctx, "rpc.statd", "--no-notify"); err != nil {
				return err
			}
		}
	}
	if len(d[cld]) == 0 {
		if _, err := ocf.LookPath("nfsdcld"); err == nil {
			// The NFSv4 client records, in the shared state directory. It
			// watches rpc_pipefs, which must be where this resource mounts
			// it (nfs.conf's pipefs-directory may name another place).
			if err := run(ctx, "nfsdcld", "-p", c.PipefsDir); err != nil {
				r.Log.Warnf("%v", err)
			}
		}
	}
	if err := run(ctx, "exportfs", "-r"); err != nil {
		return err
	}
	if len(d[mountd]) == 0 {
		if err := run(ctx, "rpc.mountd"); err != nil {
			return err
		}
	}
	args := []string{strconv.Itoa(nfsdThreads)}
	if c.Scope == "" {
		return run(ctx, "rpc.nfsd", args...)
	}
	// nfsd takes its server scope from the UTS name of the process that
	// starts it: start it in a UTS namespace of its own named after the
	// scope, as upstream does.
	return run(ctx, "unshare", "-u", "sh", "-c", `hostname "$0" && exec rpc.nfsd "$@"`, c.Scope, args[0])
}

func (ownDaemons) stop(ctx context.Context, r *ocf.Request, c *Config) error {
	if _, err := os.Stat(threadsFile); err == nil {
		if err := run(ctx, "rpc.nfsd", "0"); err != nil {
			return err
		}
	}
	_ = run(ctx, "exportfs", "-au")
	_ = run(ctx, "exportfs", "-f")
	names := []string{mountd, notify, cld, idmapd}
	if !c.V4Only {
		names = append(names, statd)
	}
	return endDaemons(ctx, r, names)
}

// endDaemons sends SIGTERM to the named daemons, then SIGKILL to those
// left after half the time that remains.
func endDaemons(ctx context.Context, r *ocf.Request, names []string) error {
	pids := func() []int {
		d := daemons()
		var out []int
		for _, n := range names {
			out = append(out, d[n]...)
		}
		return out
	}
	for _, pid := range pids() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	grace := ocf.Share(ctx, 2, 0, 5*time.Second)
	for end := time.Now().Add(grace); time.Now().Before(end) && len(pids()) > 0; {
		ocf.Sleep(ctx, 100*time.Millisecond)
	}
	for _, pid := range pids() {
		r.Log.Warnf("daemon %d ignored SIGTERM; killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for len(pids()) > 0 {
		if !ocf.Sleep(ctx, 100*time.Millisecond) {
			return ocf.Generic("the NFS daemons %v did not end", pids())
		}
	}
	return nil
}

// systemdUnits starts and stops the distribution's units.
type systemdUnits struct{}

func (systemdUnits) start(ctx context.Context, r *ocf.Request, c *Config) error {
	if !c.V4Only {
		if err := run(ctx, "systemctl", "start", "rpc-statd.service"); err != nil {
			return err
		}
	}
	return run(ctx, "systemctl", "start", "nfs-server.service")
}

func (systemdUnits) stop(ctx context.Context, r *ocf.Request, c *Config) error {
	if err := run(ctx, "systemctl", "stop", "nfs-server.service"); err != nil {
		return err
	}
	if !c.V4Only {
		return run(ctx, "systemctl", "stop", "rpc-statd.service")
	}
	return nil
}

// initScript runs nfs_init_script start and stop. Distribution scripts
// (Debian's nfs-kernel-server) leave rpc.statd to nfs-common's script,
// so the agent starts it before the script and ends it after, as the
// stock agent does in this mode.
type initScript struct{}

func (initScript) start(ctx context.Context, r *ocf.Request, c *Config) error {
	if !c.V4Only && len(daemons()[statd]) == 0 {
		if err := run(ctx, "rpc.statd", "--no-notify"); err != nil {
			return err
		}
	}
	return run(ctx, c.InitScript, "start")
}

func (initScript) stop(ctx context.Context, r *ocf.Request, c *Config) error {
	if err := run(ctx, c.InitScript, "stop"); err != nil {
		return err
	}
	// Debian's script stops nfsd with SIGINT, which the nfsd threads of
	// recent kernels ignore: stop them through the kernel's interface.
	if observe(c).Threads > 0 {
		if err := run(ctx, "rpc.nfsd", "0"); err != nil {
			return err
		}
	}
	if c.V4Only {
		return nil
	}
	return endDaemons(ctx, r, []string{notify, statd})
}

// mountIfMissing mounts fstype on dir unless something is mounted there.
func mountIfMissing(dir, source, fstype string) error {
	mounts, err := mountinfo.Read()
	if err != nil {
		return err
	}
	if mountinfo.At(mounts, dir) != nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return unix.Mount(source, dir, fstype, 0, "")
}

// bindState mounts nfs_shared_infodir over /var/lib/nfs (unless it is
// there already) and prepares what the daemons expect in it.
func bindState(r *ocf.Request, c *Config) error {
	if c.InfoDir == "" {
		return prepareState(stateDir)
	}
	if err := os.MkdirAll(c.InfoDir, 0o755); err != nil {
		return ocf.Generic("nfs_shared_infodir %s: %v", c.InfoDir, err)
	}
	if ok, _ := sharedMounted(c.InfoDir); !ok {
		if err := unix.Mount(c.InfoDir, stateDir, "", unix.MS_BIND, ""); err != nil {
			return ocf.Generic("binding %s on %s: %v", c.InfoDir, stateDir, err)
		}
		r.Log.Infof("%s mounted on %s", c.InfoDir, stateDir)
	}
	return prepareState(stateDir)
}

// prepareState makes the directories and files the daemons need in dir.
func prepareState(dir string) error {
	for _, d := range []string{"sm", "sm.bak", "v4recovery", "nfsdcld"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return ocf.Generic("%v", err)
		}
	}
	for _, f := range []string{"etab", "rmtab", "state"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return ocf.Generic("%v", err)
			}
		}
	}
	// rpc.statd and sm-notify drop their privileges to the owner of sm
	// (Debian: statd) and then write sm, sm.bak and the NSM state number:
	// give them those, as the distribution's package does. sm-notify
	// fails when it cannot write state, and then notifies nobody.
	if u, err := user.Lookup("statd"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{"sm", "sm.bak", "state"} {
			_ = os.Chown(filepath.Join(dir, d), uid, gid)
		}
	}
	return nil
}

// unbindState unmounts rpc_pipefs when it is below /var/lib/nfs, then
// the shared state directory.
func unbindState(ctx context.Context, r *ocf.Request, c *Config) error {
	if c.InfoDir == "" {
		return nil
	}
	if ok, _ := sharedMounted(c.InfoDir); !ok {
		return nil
	}
	if rel, err := filepath.Rel(stateDir, c.PipefsDir); err == nil && !filepath.IsAbs(rel) && rel != ".." && len(rel) > 0 && rel[0] != '.' {
		if err := unix.Unmount(c.PipefsDir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return ocf.Generic("unmounting %s: %v", c.PipefsDir, err)
		}
	}
	for {
		err := unix.Unmount(stateDir, 0)
		if err == nil {
			r.Log.Infof("%s unmounted from %s", c.InfoDir, stateDir)
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || !ocf.Sleep(ctx, 200*time.Millisecond) {
			return ocf.Generic("unmounting %s from %s: %v", c.InfoDir, stateDir, err)
		}
	}
}
