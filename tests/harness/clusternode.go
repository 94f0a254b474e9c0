package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// ClusterHelperMain runs the cluster helper when this program was
// started as one (by Cluster.Boot, or by a BMC's power hook) and then
// exits; otherwise it returns at once. Every program that starts a
// Cluster calls it first thing: TestMain through Main, plcluster and the
// bench from main.
//
//	<prog> __paceline_cluster__ node DIR I     node I's PID 1
//	<prog> __paceline_cluster__ power DIR I 0|1 its BMC switched the power
//	<prog> __paceline_cluster__ poweron DIR I    boot after BootDelay
func ClusterHelperMain() {
	if len(os.Args) < 2 || os.Args[1] != helperArg {
		return
	}
	a := os.Args[2:]
	if len(a) < 3 {
		fmt.Fprintf(os.Stderr, "cluster helper: usage: %s node DIR I | power DIR I 0|1\n", helperArg)
		os.Exit(2)
	}
	i, err := strconv.Atoi(a[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster helper: node %q: %v\n", a[2], err)
		os.Exit(2)
	}
	c, err := OpenCluster(a[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster helper: %v\n", err)
		os.Exit(1)
	}
	switch {
	case a[0] == "node":
		os.Exit(c.nodeInit(i))
	case a[0] == "power" && len(a) == 4:
		// Runs inside ipmi_sim's chassis control: its output goes to
		// the BMC's chassis.log.
		var err error
		if a[3] == "0" {
			err = c.Kill(i)
			fmt.Printf("%s power off: %s killed (%v)\n", stamp(), NodeName(i), err)
		} else if c.BootDelay == 0 {
			err = c.Boot(i)
			fmt.Printf("%s power on: %s booting (%v)\n", stamp(), NodeName(i), err)
		} else {
			// ipmi_sim waits for this hook: the delay runs apart.
			_, err = c.daemon(filepath.Join(c.bmcDir(i), "chassis.log"), "/", c.Helper, helperArg, "poweron", c.Dir, strconv.Itoa(i))
			fmt.Printf("%s power on: %s boots in %v (%v)\n", stamp(), NodeName(i), c.BootDelay, err)
		}
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	case a[0] == "poweron":
		time.Sleep(c.BootDelay)
		// Unless the power went off again meanwhile.
		if data, _ := os.ReadFile(filepath.Join(c.bmcDir(i), "power")); strings.TrimSpace(string(data)) != "1" {
			fmt.Printf("%s %s: power is off again, not booting\n", stamp(), NodeName(i))
			os.Exit(0)
		}
		err := c.Boot(i)
		fmt.Printf("%s %s booting (%v)\n", stamp(), NodeName(i), err)
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "cluster helper: unknown command %q\n", a)
	os.Exit(2)
}

func stamp() string { return time.Now().Format("15:04:05.000") }

func nodeLog(format string, args ...any) {
	fmt.Printf("%s %s\n", stamp(), fmt.Sprintf(format, args...))
}

// nodeInit is node i's PID 1, in its fresh namespaces: it mounts the
// node's view of the machine, waits for its cable, starts libvirtd (when
// asked), corosync and pacemakerd, reaps orphans, and on SIGTERM shuts
// the node down in order. It returns the exit code.
func (c *Cluster) nodeInit(i int) int {
	nodeLog("%s: init %d starting", NodeName(i), os.Getpid())
	if err := c.nodeMounts(i); err != nil {
		nodeLog("mounts: %v", err)
		return 1
	}
	if err := unix.Sethostname([]byte(NodeName(i))); err != nil {
		nodeLog("hostname: %v", err)
		return 1
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		nodeLog("lo up: %v %s", err, out)
		return 1
	}
	if err := waitCable(NodeIP(i), time.Minute); err != nil {
		nodeLog("%v", err)
		return 1
	}
	// Signals from here on: children are reaped in the loop below. A
	// channel of its own for SIGCHLD, so that a burst of them cannot
	// crowd out a SIGTERM.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)

	var libvirtd, corosync, pacemakerd int
	var err error
	if c.Libvirt {
		if libvirtd, err = spawn("/var/log/libvirt/libvirtd.out", nil, "libvirtd", "--listen"); err != nil {
			nodeLog("libvirtd: %v", err)
			return 1
		}
		nodeLog("libvirtd %d", libvirtd)
	}
	if corosync, err = spawn("/var/log/corosync/stderr.log", nil, "corosync", "-f"); err != nil {
		nodeLog("corosync: %v", err)
		return 1
	}
	nodeLog("corosync %d", corosync)
	for ready := time.Now().Add(time.Minute); ; {
		if exec.Command("corosync-cfgtool", "-s").Run() == nil {
			break
		}
		if time.Now().After(ready) {
			nodeLog("corosync not answering after a minute: the node goes down")
			return 1
		}
		var ws unix.WaitStatus
		if pid, _ := unix.Wait4(corosync, &ws, unix.WNOHANG, nil); pid == corosync {
			nodeLog("corosync exited: %v", ws)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pacemakerd, err = spawn("/var/log/pacemaker/stderr.log",
		[]string{"PCMK_logfile=/var/log/pacemaker/pacemaker.log", "PCMK_logfacility=none"}, "pacemakerd"); err != nil {
		nodeLog("pacemakerd: %v", err)
		return 1
	}
	nodeLog("pacemakerd %d; up", pacemakerd)

	names := map[int]string{libvirtd: "libvirtd", corosync: "corosync", pacemakerd: "pacemakerd"}
	delete(names, 0)
	stopping := false
	var stopAt time.Time
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-chld:
		case s := <-sigs:
			if !stopping {
				nodeLog("%v: shutting down", s)
				stopping, stopAt = true, time.Now()
				if _, ok := names[pacemakerd]; ok {
					_ = unix.Kill(pacemakerd, unix.SIGTERM)
				}
			}
		case <-tick.C:
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if n, ok := names[pid]; ok {
				nodeLog("%s exited: %v", n, ws)
				delete(names, pid)
				if !stopping && (pid == corosync || pid == pacemakerd) {
					// As a real node would be fenced: it ends,
					// and the kernel ends every process in it.
					nodeLog("%s died: the node goes down", n)
					return 1
				}
			}
		}
		if !stopping {
			continue
		}
		if time.Since(stopAt) > 2*time.Minute {
			nodeLog("shutdown takes too long: the node goes down")
			return 1
		}
		// pacemakerd first (it stops the resources), then the others.
		if _, ok := names[pacemakerd]; !ok {
			for pid := range names {
				_ = unix.Kill(pid, unix.SIGTERM)
			}
			if len(names) == 0 {
				nodeLog("down")
				return 0
			}
		}
	}
}

// nodeMounts makes the node's mounts, in its own mount namespace.
func (c *Cluster) nodeMounts(i int) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %v", err)
	}
	if c.Root != "" {
		if err := c.enterRoot(i); err != nil {
			return err
		}
	}
	// The copies of this machine's named network namespaces would keep
	// each of them alive, after ip netns del, as long as the node runs.
	if mounts, err := mountinfo.Read(); err == nil {
		for k := len(mounts) - 1; k >= 0; k-- {
			if p := mounts[k].Point; p == "/run/netns" || strings.HasPrefix(p, "/run/netns/") {
				if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
					return fmt.Errorf("unmount %s: %v", p, err)
				}
			}
		}
	}
	for _, m := range []struct {
		src, target, fstype string
		flags               uintptr
		data                string
	}{
		{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""}, // this netns's /sys/class/net
		{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
		{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"}, // libqb's rings
	} {
		if err := unix.Mount(m.src, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s: %v", m.target, err)
		}
	}
	// /run/resource-agents is HA_RSCTMP; Debian makes both at boot.
	for _, d := range []struct {
		path string
		mode uint32
	}{{"/run/lock", 0o1777}, {"/run/resource-agents", 0o1755}} {
		if err := os.Mkdir(d.path, 0o755); err != nil {
			return err
		}
		if err := unix.Chmod(d.path, d.mode); err != nil {
			return err
		}
	}
	root := filepath.Join(c.nodeDir(i), "root")
	for _, p := range clusterPrivate {
		if _, err := os.Stat(p); err != nil {
			continue // not installed here (pcs)
		}
		if err := unix.Mount(root+p, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %v", p, err)
		}
	}
	if c.Libvirt {
		lv := filepath.Join(c.nodeDir(i), "libvirt")
		for _, m := range clusterLibvirt {
			if err := unix.Mount(filepath.Join(lv, m.sub), m.target, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %v", m.target, err)
			}
		}
	}
	return nil
}

// waitCable waits until eth0 carries ip (Boot plugs it in after the
// node's PID 1 runs).
func waitCable(ip string, timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if ifc, err := net.InterfaceByName("eth0"); err == nil && ifc.Flags&net.FlagUp != 0 {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no eth0 with %s after %v", ip, timeout)
}

// spawn starts a daemon of the node with its output appended to logPath
// and returns its PID; nodeInit reaps it.
func spawn(logPath string, env []string, name string, args ...string) (int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	p, err := os.StartProcess(path, append([]string{name}, args...), &os.ProcAttr{
		Dir:   "/",
		Env:   append(os.Environ(), env...),
		Files: []*os.File{devnull, out, out},
	})
	if err != nil {
		return 0, err
	}
	pid := p.Pid
	_ = p.Release()
	return pid, nil
}
