//go:build system

// System tests of ocf:paceline:Filesystem against real mounts: ext4 and
// xfs on loop devices, bind mounts, a FUSE filesystem that hangs on
// command and a GlusterFS volume served by a real glusterd.
package filesystem_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/gluster"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// TestMain lets the test binary serve as the processes that hold a mount:
// PACELINE_HOLD=mode:path makes it keep path busy and wait to be killed.
// It removes the installed binaries after the tests.
func TestMain(m *testing.M) {
	if spec := os.Getenv("PACELINE_HOLD"); spec != "" {
		hold(spec)
		return
	}
	os.Exit(h.Main(m))
}

func hold(spec string) {
	mode, path, _ := strings.Cut(spec, ":")
	switch mode {
	case "fd":
		f, err := os.Open(path)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		defer f.Close()
		_ = os.Chdir("/")
	case "cwd":
		if err := os.Chdir(path); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	case "mmap":
		f, err := os.Open(path)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if _, err := syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		f.Close() // only the mapping is left
		_ = os.Chdir("/")
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
}

// holder starts a process that keeps path busy, and returns it once it is.
func holder(t *testing.T, mode, path string) *proc.Cmd {
	t.Helper()
	cmd := proc.Command(context.Background(), os.Args[0])
	cmd.Env = append(os.Environ(), "PACELINE_HOLD="+mode+":"+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("holder %s %s: %q", mode, path, line)
	}
	return cmd
}

// killedWithin bounds the wait for a holder that stop killed to be seen
// gone: it is dead once the unmount succeeded, but a loaded machine may
// take a while to finish its exit and let us reap it.
const killedWithin = 30 * time.Second

// exited reports whether the process has ended (reaping it).
func exited(cmd *proc.Cmd, within time.Duration) bool {
	done := make(chan struct{})
	go func() {
		_, _ = cmd.Process.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(within):
		return false
	}
}

func newAgent(t *testing.T, params map[string]string) *h.Agent {
	dir := t.TempDir()
	return &h.Agent{
		Dir: h.Install(t), Type: "Filesystem", Instance: "fs", Params: params,
		StateDir: filepath.Join(dir, "rsctmp"), LogFile: filepath.Join(dir, "ha.log"),
	}
}

// startedExt4 makes an ext4 filesystem on a loop device and an agent
// for it on a new mount point, with more parameters as name, value
// pairs, and starts it.
func startedExt4(t *testing.T, kv ...string) (*h.Agent, string) {
	t.Helper()
	dev := h.LoopFS(t, "ext4", "")
	dir := mountDir(t)
	params := map[string]string{"device": dev, "directory": dir, "fstype": "ext4"}
	for i := 0; i+1 < len(kv); i += 2 {
		params[kv[i]] = kv[i+1]
	}
	a := newAgent(t, params)
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	return a, dir
}

func mountDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	t.Cleanup(func() {
		if h.Mounted(dir) {
			_, _ = proc.Output(context.Background(), "umount", "-l", dir)
		}
	})
	return dir
}

func depth(level string) h.CallOpt { return func(c *ocf.Call) { c.CheckLevel = level } }

func TestLocalFilesystems(t *testing.T) {
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			dev := h.LoopFS(t, fstype, "")
			dir := mountDir(t)
			a := newAgent(t, map[string]string{"device": dev, "directory": dir, "fstype": fstype})
			h.Expect(t, a.Call(t, "validate-all"), ocf.Success, "")
			h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
			h.Expect(t, a.Call(t, "start"), ocf.Success, "")
			if !h.Mounted(dir) {
				t.Fatalf("%s not mounted after start", dir)
			}
			for _, level := range []string{"0", "10", "20"} {
				h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second), depth(level)), ocf.Success, "")
			}
			status := filepath.Join(dir, ".Filesystem_status")
			entries, err := os.ReadDir(status)
			if err != nil || len(entries) != 1 {
				t.Fatalf("status directory after a depth-20 monitor: %v %v", entries, err)
			}
			b, _ := os.ReadFile(filepath.Join(status, entries[0].Name()))
			if !strings.HasPrefix(string(b), "fs\n") || len(b) != 4096 {
				t.Errorf("status file = %d bytes starting %q, want 4096 starting \"fs\\n\"", len(b), b[:min(len(b), 8)])
			}
			h.Expect(t, a.Call(t, "start"), ocf.Success, "") // idempotent
			h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
			if h.Mounted(dir) {
				t.Fatalf("%s still mounted after stop", dir)
			}
			h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.NotRunning, "")
			h.Expect(t, a.Call(t, "stop"), ocf.Success, "") // idempotent
		})
	}
}

func TestUUIDAndLabel(t *testing.T) {
	dev := h.LoopFS(t, "ext4", "pldata")
	uuid := strings.TrimSpace(proc.Run(t, "blkid", "-p", "-s", "UUID", "-o", "value", dev))
	for _, device := range []string{"UUID=" + uuid, "LABEL=pldata", "-L pldata"} {
		t.Run(device, func(t *testing.T) {
			dir := mountDir(t)
			a := newAgent(t, map[string]string{"device": device, "directory": dir, "fstype": "ext4"})
			h.Expect(t, a.Call(t, "start"), ocf.Success, "")
			// The monitor recognises the device from what start recorded,
			// without reading it (a stalled device would block the read).
			trace := filepath.Join(t.TempDir(), "trace")
			h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second), func(c *ocf.Call) {
				c.Wrap = []string{"strace", "-f", "-qq", "-e", "trace=openat", "-o", trace, "--"}
			}), ocf.Success, "")
			if b, _ := os.ReadFile(trace); strings.Contains(string(b), dev) {
				t.Errorf("the monitor opened %s:\n%s", dev, b)
			}
			h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
			if h.Mounted(dir) {
				t.Fatal("still mounted")
			}
		})
	}
	a := newAgent(t, map[string]string{"device": "UUID=00000000-0000-4000-8000-000000000000", "directory": mountDir(t), "fstype": "ext4"})
	h.Expect(t, a.Call(t, "start"), ocf.ErrInstalled, "no block device with UUID=00000000")
}

// TestBusyStop: processes holding an open file, a working directory and a
// memory map inside the mount are killed and the unmount succeeds; a
// process holding a file outside survives.
func TestBusyStop(t *testing.T) {
	dev := h.LoopFS(t, "ext4", "")
	dir := mountDir(t)
	a := newAgent(t, map[string]string{"device": dev, "directory": dir, "fstype": "ext4"})
	// A shell that entered the directory before the filesystem was mounted
	// over it: its working directory is on the filesystem below.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	before := holder(t, "cwd", dir)
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	file := filepath.Join(dir, "data")
	if err := os.WriteFile(file, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	fd := holder(t, "fd", file)
	cwd := holder(t, "cwd", dir)
	mm := holder(t, "mmap", file)
	bystander := holder(t, "fd", outside)
	bystanderMap := holder(t, "mmap", outside)

	res := a.Call(t, "stop")
	h.Expect(t, res, ocf.Success, "")
	if h.Mounted(dir) {
		t.Fatal("still mounted after stop")
	}
	for name, c := range map[string]*proc.Cmd{"open file": fd, "cwd": cwd, "memory map": mm} {
		if !exited(c, killedWithin) {
			t.Errorf("the %s holder survived the stop", name)
		}
	}
	if exited(bystander, 100*time.Millisecond) || exited(bystanderMap, 100*time.Millisecond) {
		t.Error("a process holding a file outside the mount was killed")
	}
	if exited(before, 100*time.Millisecond) {
		t.Error("a process whose working directory is under the mount point, below the mount, was killed")
	}
	log, _ := os.ReadFile(a.LogFile)
	if !strings.Contains(string(log), "sending SIGTERM") {
		t.Errorf("log does not show the signals:\n%s", log)
	}
}

// TestBindMountBusyStop: a failed unmount of a bind mount of a directory
// on / signals only the processes using the bind mount, not everything on
// / (resource-agents issue #1304).
func TestBindMountBusyStop(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := mountDir(t)
	a := newAgent(t, map[string]string{"device": src, "directory": dir, "fstype": "none"})
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.Success, "")
	inside := holder(t, "cwd", filepath.Join(dir, "sub"))
	viaSource := holder(t, "cwd", filepath.Join(src, "sub")) // same files, not the bind mount
	onRoot := holder(t, "cwd", "/")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	if h.Mounted(dir) {
		t.Fatal("bind mount still there after stop")
	}
	if !exited(inside, killedWithin) {
		t.Error("the process inside the bind mount survived")
	}
	if exited(viaSource, 100*time.Millisecond) || exited(onRoot, 100*time.Millisecond) {
		t.Error("a process outside the bind mount was killed")
	}
}

func TestForceUnmountFalse(t *testing.T) {
	a, dir := startedExt4(t, "force_unmount", "false")
	busy := holder(t, "cwd", dir)
	res := a.Call(t, "stop", h.Timeout(3*time.Second))
	h.Expect(t, res, ocf.ErrGeneric, "force_unmount=false")
	if res.TimedOut {
		t.Error("stop overran its timeout")
	}
	if exited(busy, 100*time.Millisecond) {
		t.Error("force_unmount=false killed a process")
	}
	_ = busy.Process.Kill()
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
}

func TestTermIgnoredEscalatesToKill(t *testing.T) {
	// term_signals CONT: a running holder does not die of it, so only the
	// kill phase, from half the budget on, frees the mount.
	a, dir := startedExt4(t, "term_signals", "CONT")
	busy := holder(t, "cwd", dir)
	const timeout = 6 * time.Second
	res := a.Call(t, "stop", h.Timeout(timeout))
	// Success before the timeout is the contract, and with the holder
	// still there at the end stop would have failed: the kill phase came
	// in time. It cannot start before half of the budget (the timeout
	// less the margin), however busy the machine.
	h.Expect(t, res, ocf.Success, "")
	if res.TimedOut {
		t.Errorf("stop was killed at its %v timeout", timeout)
	}
	if !exited(busy, killedWithin) {
		t.Error("holder not killed")
	}
	if half := (timeout - ocf.Margin(timeout)) / 2; res.Elapsed < half {
		t.Errorf("stop took %v; the kill phase starts at half of the budget, %v", res.Elapsed, half)
	}
	log, _ := os.ReadFile(a.LogFile)
	if cont, kill := strings.Index(string(log), "sending SIGCONT"), strings.Index(string(log), "sending SIGKILL"); cont < 0 || kill < cont {
		t.Errorf("log does not show the term signals, then the kill signals:\n%s", log)
	}
}

func TestErrors(t *testing.T) {
	dev := h.LoopFS(t, "ext4", "")
	other := h.LoopFS(t, "ext4", "")

	t.Run("missing device", func(t *testing.T) {
		a := newAgent(t, map[string]string{"device": "/dev/paceline-none", "directory": mountDir(t), "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start"), ocf.ErrInstalled, "/dev/paceline-none")
		h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
		h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	})
	t.Run("directory is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		_ = os.WriteFile(f, nil, 0o644)
		a := newAgent(t, map[string]string{"device": dev, "directory": f, "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start"), ocf.ErrInstalled, "not a directory")
	})
	t.Run("device mounted elsewhere", func(t *testing.T) {
		elsewhere := mountDir(t)
		_ = os.MkdirAll(elsewhere, 0o755)
		proc.Run(t, "mount", dev, elsewhere)
		defer proc.Run(t, "umount", elsewhere)
		a := newAgent(t, map[string]string{"device": dev, "directory": mountDir(t), "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start"), ocf.ErrGeneric, "already mounted on "+elsewhere)
	})
	t.Run("another device on the directory", func(t *testing.T) {
		dir := mountDir(t)
		_ = os.MkdirAll(dir, 0o755)
		proc.Run(t, "mount", other, dir)
		defer proc.Run(t, "umount", dir)
		a := newAgent(t, map[string]string{"device": dev, "directory": dir, "fstype": "ext4"})
		h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.ErrGeneric, other+" is mounted on "+dir)
		h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, other)
		h.Expect(t, a.Call(t, "start"), ocf.ErrGeneric, other)
		h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
		if !h.Mounted(dir) {
			t.Error("stop unmounted a filesystem that is not the resource's")
		}
	})
	t.Run("mounts below the directory", func(t *testing.T) {
		dir := mountDir(t)
		sub := filepath.Join(dir, "sub")
		_ = os.MkdirAll(sub, 0o755)
		proc.Run(t, "mount", "-t", "tmpfs", "pltmp", sub)
		defer proc.Run(t, "umount", sub)
		a := newAgent(t, map[string]string{"device": dev, "directory": dir, "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start"), ocf.ErrConfigured, "mounts below")
	})
	t.Run("bad depth", func(t *testing.T) {
		a := newAgent(t, map[string]string{"device": dev, "directory": mountDir(t), "fstype": "ext4"})
		h.Expect(t, a.Call(t, "monitor", depth("15")), ocf.ErrConfigured, "depth 15")
	})
	t.Run("not cluster-safe clone", func(t *testing.T) {
		a := newAgent(t, map[string]string{"device": dev, "directory": mountDir(t), "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start", h.Meta("clone_max", "2"), h.Meta("clone", "0")), ocf.ErrConfigured, "DANGER")
	})
}

// TestMonitorForksNothing checks under strace that a level-0 monitor,
// validate-all and meta-data start no process.
func TestMonitorForksNothing(t *testing.T) {
	h.RequireRoot(t, "strace")
	a, _ := startedExt4(t)
	defer a.Call(t, "stop")
	for _, action := range []string{"monitor", "validate-all", "meta-data"} {
		trace := filepath.Join(t.TempDir(), "trace")
		res := a.Call(t, action, h.Interval(20*time.Second), func(c *ocf.Call) {
			c.Wrap = []string{"strace", "-f", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", trace, "--"}
		})
		h.Expect(t, res, ocf.Success, "")
		if forks, execs := h.CountProcesses(t, trace); forks != 0 || execs != 1 {
			t.Errorf("%s: %d forks and %d execs, want 0 and 1", action, forks, execs)
		}
	}
}

func TestOCFTester(t *testing.T) {
	h.RequireRoot(t, "ocf-tester", "xmllint")
	dev := h.LoopFS(t, "ext4", "")
	dir := mountDir(t)
	out, err := proc.Output(context.Background(), "env", "HA_RSCTMP="+t.TempDir(), "ocf-tester", "-n", "fs1",
		"-o", "device="+dev, "-o", "directory="+dir, "-o", "fstype=ext4",
		filepath.Join(h.Install(t), "Filesystem"))
	if err != nil || !strings.Contains(out, "passed all tests") {
		t.Fatalf("ocf-tester failed: %v\n%s", err, out)
	}
}

// TestGlusterFS mounts a volume served by a real glusterd on this machine
// through mount(8) and its glusterfs helper.
func TestGlusterFS(t *testing.T) {
	dir := mountDir(t) // before the volume: its cleanup must run after
	g := gluster.Start(t)
	a := newAgent(t, map[string]string{"device": g.Spec, "directory": dir, "fstype": "glusterfs"})
	h.Expect(t, a.Call(t, "validate-all"), ocf.Success, "")
	h.Expect(t, a.Call(t, "monitor"), ocf.NotRunning, "")
	res := a.Call(t, "start", h.Timeout(60*time.Second))
	h.Expect(t, res, ocf.Success, "")
	if !h.Mounted(dir) {
		t.Fatalf("volume not mounted; gluster logs:\n%s", g.LogTail())
	}
	h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.Success, "")
	h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second), depth("20")), ocf.Success, "")
	// The status file went through the volume into the brick.
	entries, err := os.ReadDir(filepath.Join(g.Brick, ".Filesystem_status"))
	if err != nil || len(entries) != 1 {
		t.Errorf("status file not in the brick %s: %v %v", g.Brick, entries, err)
	}
	h.Expect(t, a.Call(t, "start"), ocf.Success, "")
	h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	if h.Mounted(dir) {
		t.Fatal("volume still mounted after stop")
	}
	h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.NotRunning, "")
}

// TestOtherSources: tmpfs with options, a device named through a symlink
// (as /dev/disk/by-id links are), and run_fsck=force.
func TestOtherSources(t *testing.T) {
	t.Run("tmpfs with options", func(t *testing.T) {
		dir := mountDir(t)
		a := newAgent(t, map[string]string{"device": "pltmpfs", "directory": dir, "fstype": "tmpfs", "options": "size=4m,mode=0700,noexec"})
		h.Expect(t, a.Call(t, "start"), ocf.Success, "")
		b, _ := os.ReadFile("/proc/self/mountinfo")
		var line string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, " "+dir+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "noexec") || !strings.Contains(line, "size=4096k") || !strings.Contains(line, "mode=700") {
			t.Errorf("tmpfs mounted as %q, want noexec, size=4096k, mode=700", line)
		}
		h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second), depth("20")), ocf.Success, "")
		h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
		if h.Mounted(dir) {
			t.Fatal("still mounted")
		}
	})
	t.Run("device through a symlink", func(t *testing.T) {
		dev := h.LoopFS(t, "ext4", "")
		link := filepath.Join(t.TempDir(), "by-id-disk")
		if err := os.Symlink(dev, link); err != nil {
			t.Fatal(err)
		}
		dir := mountDir(t)
		a := newAgent(t, map[string]string{"device": link, "directory": dir, "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start"), ocf.Success, "")
		h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second), depth("10")), ocf.Success, "")
		h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	})
	t.Run("mount point through a symlink", func(t *testing.T) {
		dev := h.LoopFS(t, "ext4", "")
		real := mountDir(t)
		if err := os.MkdirAll(real, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(t.TempDir(), "data")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		a := newAgent(t, map[string]string{"device": dev, "directory": link, "fstype": "ext4"})
		h.Expect(t, a.Call(t, "start"), ocf.Success, "")
		if !h.Mounted(real) {
			t.Fatalf("not mounted on %s", real)
		}
		// The mount table shows the real path; monitor and stop follow it.
		h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.Success, "")
		h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
		if h.Mounted(real) {
			t.Fatal("still mounted after stop")
		}
	})
	t.Run("run_fsck=force", func(t *testing.T) {
		h.RequireRoot(t, "fsck")
		dev := h.LoopFS(t, "ext4", "")
		a := newAgent(t, map[string]string{"device": dev, "directory": mountDir(t), "fstype": "ext4", "run_fsck": "force"})
		h.Expect(t, a.Call(t, "start"), ocf.Success, "")
		log, _ := os.ReadFile(a.LogFile)
		if !strings.Contains(string(log), "fsck -t ext4 -p "+dev) {
			t.Errorf("no fsck in the log:\n%s", log)
		}
		h.Expect(t, a.Call(t, "stop"), ocf.Success, "")
	})
}
