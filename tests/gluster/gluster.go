// Package gluster serves a one-brick GlusterFS volume on loopback for
// the Filesystem tier: glusterd with private state when none runs, a
// volume on a temporary directory, and a cleanup that leaves this
// machine's gluster directories as they were.
package gluster

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Volume is a running single-brick GlusterFS volume served on loopback.
type Volume struct {
	Volume      string // volume name, unique within the test run
	Spec        string // what mount -t glusterfs takes as device: "127.0.0.1:/<Volume>"
	Brick       string // the brick directory on this host
	BrickPIDs   []int  // the glusterfsd processes serving the volume
	GlusterdPID int    // glusterd started for it; 0 when one was already running

	dir     string    // per-volume temp dir: brick, probe mount point, logs
	d       *glusterd // the daemon serving the volume
	sockets []string  // brick sockets glusterd puts in /var/run/gluster
	started time.Time
	geoRep  bool // glusterGeoRepDir existed before
}

// glusterBrickHost names this host in the brick. The gluster CLI refuses
// "localhost" and "127.0.0.1" literally, but "127.1" is the same address
// (inet_aton short form) and glusterd resolves it as local. Everything,
// bricks included, then talks over 127.0.0.1 only.
const glusterBrickHost = "127.1"

// Host paths glusterd writes to even with private directories (the brick
// sockets, the snapshot mount folder, geo-replication and shared storage
// state). What appears there while our glusterd runs is removed after it.
var glusterHostDirs = []string{"/var/lib/glusterd", "/var/run/gluster"}

// glusterGeoRepDir is created by the gluster CLI itself, whatever
// glusterd it talks to.
const glusterGeoRepDir = "/var/lib/glusterd/geo-replication"

// glusterLogDir is where mount.glusterfs logs by default (and a foreign
// glusterd logs bricks).
const glusterLogDir = "/var/log/glusterfs"

var (
	glusterSeq atomic.Int32
	glusterMu  sync.Mutex
	glusterCur *glusterd // ours while it has users
)

// glusterd is the management daemon serving the volumes: one started
// here with private state (cmd set), or one found running (cmd nil).
type glusterd struct {
	daemon  *proc.Proc // ours; nil for one found running
	dir     string     // private state: lib, run, log (ours only)
	logDir  string     // where it logs (bricks/ under it)
	cli     []string   // arguments the gluster CLI needs to reach it
	users   int
	stopped bool
	before  map[string]map[string]bool // glusterHostDirs entries before start; nil map: dir absent
}

// Start starts glusterd when none is running (with its state,
// sockets and logs in a private temp dir, listening on 127.0.0.1 only),
// creates and starts a one-brick volume on a temp dir (with "force": the
// brick is on the root filesystem), and returns once a probe mount of
// Spec succeeded. Cleanup unmounts what is still mounted from the volume,
// stops and deletes it, stops by PID the processes started for it (the
// brick's glusterfsd and anything else whose command line names its
// dirs), stops glusterd after its last user if it was started here, and
// removes what was created under /var/lib/glusterd, /var/run/gluster and
// /var/log/glusterfs (including default mount logs of this volume).
func Start(t testing.TB) *Volume {
	t.Helper()
	harness.RequireRoot(t, "glusterd", "gluster", "glusterfsd", "mount", "umount", "mount.glusterfs")
	_, err := os.Stat("/dev/fuse")
	harness.Require(t, err == nil, "needs /dev/fuse")

	g := &Volume{started: time.Now()}
	_, err = os.Lstat(glusterGeoRepDir)
	g.geoRep = err == nil
	g.Volume = fmt.Sprintf("pl%d-%d", os.Getpid(), glusterSeq.Add(1))
	g.Spec = "127.0.0.1:/" + g.Volume
	g.dir, err = os.MkdirTemp("", "paceline-gluster-"+g.Volume+"-")
	if err != nil {
		t.Fatalf("gluster: %v", err)
	}
	g.Brick = filepath.Join(g.dir, "brick")
	created := false
	t.Cleanup(func() { g.cleanup(t, created) })

	g.d = acquireGlusterd(t, g.dir)
	if g.d.daemon != nil {
		g.GlusterdPID = g.d.daemon.PID()
	}
	if out, err := g.d.gluster("volume", "create", g.Volume, glusterBrickHost+":"+g.Brick, "force"); err != nil {
		g.fatal(t, "volume create: %v\n%s", err, out)
	}
	created = true
	if out, err := g.d.gluster("volume", "start", g.Volume); err != nil {
		g.fatal(t, "volume start: %v\n%s", err, out)
	}
	g.waitOnline(t, 20*time.Second)
	g.probeMount(t, 20*time.Second)
	return g
}

// LogTail returns the last lines of the logs of glusterd, the brick and
// the probe mount, for failure messages.
func (g *Volume) LogTail() string {
	var files []string
	if g.d != nil {
		files = append(files, filepath.Join(g.d.logDir, "glusterd.log"))
		if g.d.daemon != nil {
			files = append(files, filepath.Join(g.d.dir, "glusterd.out"))
		}
		files = append(files, g.brickLog())
	}
	files = append(files, filepath.Join(g.dir, "probe.log"))
	var b strings.Builder
	for _, f := range files {
		b.WriteString(harness.Tail(f, 25))
	}
	return b.String()
}

// brickLog is where glusterd has the brick log.
func (g *Volume) brickLog() string {
	return filepath.Join(g.d.logDir, "bricks", strings.ReplaceAll(strings.TrimPrefix(g.Brick, "/"), "/", "-")+".log")
}

func (g *Volume) fatal(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("gluster volume %s: %s\n%s", g.Volume, fmt.Sprintf(format, args...), g.LogTail())
}

// glusterStatus is the part of "gluster volume status --xml" used here.
type glusterStatus struct {
	OpRet    int    `xml:"opRet"`
	OpErrstr string `xml:"opErrstr"`
	Nodes    []struct {
		Hostname string `xml:"hostname"`
		Path     string `xml:"path"`
		Status   int    `xml:"status"`
		PID      int    `xml:"pid"`
	} `xml:"volStatus>volumes>volume>node"`
}

// waitOnline waits until glusterd reports the brick online with a PID,
// and records the PIDs and the brick sockets.
func (g *Volume) waitOnline(t testing.TB, timeout time.Duration) {
	t.Helper()
	err := proc.Until(timeout, 100*time.Millisecond, func() error {
		out, err := g.d.gluster("volume", "status", g.Volume, "--xml")
		var st glusterStatus
		if err != nil || xml.Unmarshal([]byte(out), &st) != nil || st.OpRet != 0 {
			return fmt.Errorf("last status:\n%s", out)
		}
		online := false
		g.BrickPIDs = g.BrickPIDs[:0]
		for _, n := range st.Nodes {
			if n.PID > 0 && n.Status == 1 {
				g.BrickPIDs = append(g.BrickPIDs, n.PID)
				online = online || n.Hostname == glusterBrickHost || n.Path == g.Brick
			}
		}
		if !online {
			return fmt.Errorf("last status:\n%s", out)
		}
		return nil
	})
	if err != nil {
		g.fatal(t, "brick not online: %v", err)
	}
	for _, pid := range g.BrickPIDs {
		if s := proc.Arg(pid, "-S"); strings.HasPrefix(s, "/var/run/gluster/") {
			g.sockets = append(g.sockets, s)
		}
	}
}

// probeMount mounts Spec on a scratch dir (logging into the volume dir),
// checks it is a live glusterfs mount, and unmounts it again.
func (g *Volume) probeMount(t testing.TB, timeout time.Duration) {
	t.Helper()
	mnt := filepath.Join(g.dir, "probe")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		g.fatal(t, "%v", err)
	}
	err := proc.Until(timeout, 200*time.Millisecond, func() error {
		out, err := glusterCommand(10*time.Second, "mount", "-t", "glusterfs",
			"-o", "log-file="+filepath.Join(g.dir, "probe.log"), g.Spec, mnt)
		if err != nil {
			return fmt.Errorf("mount -t glusterfs %s: %v\n%s", g.Spec, err, out)
		}
		var st syscall.Statfs_t
		err = syscall.Statfs(mnt, &st)
		if err == nil && st.Type != 0x65735546 { // FUSE_SUPER_MAGIC
			err = fmt.Errorf("%s is not a FUSE mount after mount", mnt)
		}
		if uerr := unmount(mnt); uerr != nil {
			return proc.Abort(fmt.Errorf("unmount probe mount: %v", uerr))
		}
		return err
	})
	if err != nil {
		g.fatal(t, "not mountable: %v", err)
	}
}

// cleanup tears down what Start set up, as far as it got.
func (g *Volume) cleanup(t testing.TB, created bool) {
	t.Helper()
	// A test should unmount its own mounts; a leftover would keep a
	// client retrying a deleted volume.
	for _, m := range glusterMounts(g.Spec, g.dir) {
		t.Logf("gluster: unmounting leftover mount %s of %s", m, g.Spec)
		if err := unmount(m); err != nil {
			t.Errorf("gluster: %v", err)
		}
	}
	if created && g.d != nil {
		if out, err := g.d.gluster("volume", "stop", g.Volume); err != nil {
			if out2, err2 := g.d.gluster("volume", "stop", g.Volume, "force"); err2 != nil {
				t.Errorf("gluster volume stop %s: %v\n%s\n%s", g.Volume, err, out, out2)
			}
		}
		if out, err := g.d.gluster("volume", "delete", g.Volume); err != nil {
			t.Errorf("gluster volume delete %s: %v\n%s", g.Volume, err, out)
		}
	}
	// The brick (its command line names the brick dir) and any probe
	// client still around.
	if left := proc.KillMatching(g.dir+"/", 10*time.Second); len(left) > 0 {
		t.Errorf("gluster: processes of %s survive SIGKILL: %v", g.Volume, left)
	}
	for _, s := range g.sockets {
		_ = os.Remove(s)
	}
	if g.d != nil {
		if g.d.daemon == nil { // a foreign glusterd keeps the volume's files in its dirs
			_ = os.Remove(g.brickLog())
			for _, sub := range []string{"gfproxy", "snaps"} {
				_ = os.RemoveAll(filepath.Join(g.d.logDir, sub, g.Volume))
				_ = os.Remove(filepath.Join(g.d.logDir, sub)) // only when empty
			}
			_ = os.RemoveAll(filepath.Join("/var/run/gluster/vols", g.Volume))
		}
		releaseGlusterd(t, g.d)
	}
	// Our glusterd removed it with the rest of what appeared while it ran.
	if !g.geoRep && (g.d == nil || g.d.daemon == nil) {
		_ = os.RemoveAll(glusterGeoRepDir)
	}
	removeMountLogs(g.Volume, g.started)
	if err := os.RemoveAll(g.dir); err != nil {
		t.Errorf("gluster: %v", err)
	}
}

// acquireGlusterd returns the running glusterd: ours from an earlier
// call, one started elsewhere, or a new one of ours.
func acquireGlusterd(t testing.TB, scratch string) *glusterd {
	t.Helper()
	glusterMu.Lock()
	defer glusterMu.Unlock()
	if d := glusterCur; d != nil {
		if !d.daemon.Exited() {
			d.users++
			return d
		}
		t.Logf("gluster: glusterd %d exited unexpectedly; starting a new one", d.daemon.PID())
		glusterCur = nil
		d.stop(t) // its remaining users' cleanups find it stopped
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:24007", time.Second); err == nil {
		c.Close()
		t.Logf("gluster: using the glusterd already listening on 127.0.0.1:24007")
		return &glusterd{logDir: glusterLogDir, cli: []string{"--log-file=" + filepath.Join(scratch, "cli.log")}}
	}
	d := startGlusterd(t)
	d.users = 1
	glusterCur = d
	return d
}

func releaseGlusterd(t testing.TB, d *glusterd) {
	t.Helper()
	if d.daemon == nil {
		return
	}
	glusterMu.Lock()
	d.users--
	last := d.users <= 0
	if last && glusterCur == d {
		glusterCur = nil
	}
	glusterMu.Unlock()
	if last {
		d.stop(t)
	}
}

// startGlusterd runs glusterd in the foreground (-N) as our child, with
// its working, run and log directories and its CLI socket private, and
// its TCP listener (and so the bricks') on 127.0.0.1 only.
func startGlusterd(t testing.TB) *glusterd {
	t.Helper()
	d := &glusterd{before: map[string]map[string]bool{}}
	var err error
	if d.dir, err = os.MkdirTemp("", "paceline-glusterd-"); err != nil {
		t.Fatalf("gluster: %v", err)
	}
	for _, sub := range []string{"lib", "run", "log"} {
		if err := os.Mkdir(filepath.Join(d.dir, sub), 0o755); err != nil {
			t.Fatalf("gluster: %v", err)
		}
	}
	for _, dir := range glusterHostDirs {
		names, err := dirEntries(dir)
		switch {
		case err == nil:
			d.before[dir] = names
		case errors.Is(err, os.ErrNotExist):
			d.before[dir] = nil
		default: // unreadable: leave it alone afterwards
		}
	}
	d.logDir = filepath.Join(d.dir, "log")
	sock := filepath.Join(d.dir, "run", "glusterd.socket")
	d.cli = []string{"--glusterd-sock=" + sock, "--log-file=" + filepath.Join(d.logDir, "cli.log")}
	out := filepath.Join(d.dir, "glusterd.out")
	// SIGTERM when the test binary dies.
	d.daemon, err = proc.Start(proc.Spec{Argv: []string{"glusterd", "-N",
		"--log-file=" + filepath.Join(d.logDir, "glusterd.log"),
		"--pid-file=" + filepath.Join(d.dir, "run", "glusterd.pid"),
		"--xlator-option", "management.transport.socket.bind-address=127.0.0.1",
		"--xlator-option", "management.working-directory=" + filepath.Join(d.dir, "lib"),
		"--xlator-option", "management.run-directory=" + filepath.Join(d.dir, "run"),
		"--xlator-option", "management.logging-directory=" + d.logDir,
		"--xlator-option", "management.glusterd-sockfile=" + sock},
		Log: out, DeathSignal: syscall.SIGTERM})
	if err != nil {
		d.cleanupHost()
		t.Fatalf("gluster: %v", err)
	}
	err = proc.Until(15*time.Second, 100*time.Millisecond, func() error {
		msg, err := d.gluster("pool", "list")
		switch {
		case err == nil:
			return nil
		case d.daemon.Exited():
			return proc.Abort(fmt.Errorf("glusterd exited: %v\n%s", err, msg))
		}
		return fmt.Errorf("%v\n%s", err, msg)
	})
	if err != nil {
		tail := harness.Tail(filepath.Join(d.logDir, "glusterd.log"), 25) + harness.Tail(out, 25)
		d.stop(t)
		t.Fatalf("gluster: glusterd not ready: %v\n%s", err, tail)
	}
	return d
}

// stop ends our glusterd by its PID, then whatever it spawned that is
// still around (self-heal and other volume daemons name its dirs), and
// removes what it left on the host.
func (d *glusterd) stop(t testing.TB) {
	t.Helper()
	if d.stopped {
		return
	}
	d.stopped = true
	if err := d.daemon.Stop(10 * time.Second); err != nil && !d.daemon.Exited() {
		t.Errorf("gluster: %v", err)
	}
	if left := proc.KillMatching(d.dir+"/", 10*time.Second); len(left) > 0 {
		t.Errorf("gluster: processes of glusterd survive SIGKILL: %v", left)
	}
	d.cleanupHost()
}

// cleanupHost removes what appeared in glusterHostDirs since glusterd
// started, and the private dir.
func (d *glusterd) cleanupHost() {
	for dir, before := range d.before {
		if before == nil {
			_ = os.RemoveAll(dir)
			continue
		}
		now, _ := dirEntries(dir)
		for name := range now {
			if !before[name] {
				_ = os.RemoveAll(filepath.Join(dir, name))
			}
		}
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

// gluster runs one bounded gluster CLI command in script mode.
func (d *glusterd) gluster(args ...string) (string, error) {
	return glusterCommand(30*time.Second, "gluster", append(append([]string{"--mode=script"}, d.cli...), args...)...)
}

// glusterCommand runs a command with a timeout and returns its output.
func glusterCommand(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var b bytes.Buffer
	cmd := proc.Command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), timeout)
	}
	return b.String(), err
}

// unmount unmounts a mount point, lazily when it is busy.
func unmount(dir string) error {
	out, err := glusterCommand(20*time.Second, "umount", dir)
	if err == nil {
		return nil
	}
	if out2, err2 := glusterCommand(20*time.Second, "umount", "-l", dir); err2 != nil {
		return fmt.Errorf("umount %s: %v: %s; umount -l: %v: %s", dir, err, out, err2, out2)
	}
	return nil
}

// glusterMounts lists mount points mounted from spec or under dir,
// innermost first.
func glusterMounts(spec, dir string) []string {
	mounts, err := mountinfo.Read()
	if err != nil {
		return nil
	}
	var out []string
	for i := len(mounts) - 1; i >= 0; i-- {
		m := mounts[i]
		if m.Source == spec || m.Point == dir || strings.HasPrefix(m.Point, dir+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}

// removeMountLogs removes the default mount.glusterfs logs (one per
// mount point, /var/log/glusterfs/<mount-point>.log) of this volume's
// clients, written since the volume started.
func removeMountLogs(volume string, since time.Time) {
	ents, err := os.ReadDir(glusterLogDir)
	if err != nil {
		return
	}
	want := []byte("--volfile-id=/" + volume + " ")
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().Before(since) {
			continue
		}
		p := filepath.Join(glusterLogDir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		head := make([]byte, 4096)
		n, _ := f.Read(head)
		f.Close()
		if bytes.Contains(head[:n], want) {
			_ = os.Remove(p)
		}
	}
}

// dirEntries returns the names in dir.
func dirEntries(dir string) (map[string]bool, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := map[string]bool{}
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m, nil
}
