package nscluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

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
	if out, err := proc.Output(context.Background(), "ip", "link", "set", "lo", "up"); err != nil {
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

	// The node's daemons are its PID 1's children; they die with it.
	names := map[int]string{}
	daemons := map[int]*proc.Proc{}
	spawn := func(log string, env []string, argv ...string) (int, error) {
		p, err := proc.Start(proc.Spec{Argv: argv, Dir: "/", Env: env, Log: log})
		if err != nil {
			nodeLog("%s: %v", argv[0], err)
			return 0, err
		}
		names[p.PID()], daemons[p.PID()] = argv[0], p
		return p.PID(), nil
	}
	var corosync, pacemakerd int
	var err error
	if c.Libvirt {
		libvirtd, err := spawn("/var/log/libvirt/libvirtd.out", nil, "libvirtd", "--listen")
		if err != nil {
			return 1
		}
		nodeLog("libvirtd %d", libvirtd)
	}
	if corosync, err = spawn("/var/log/corosync/stderr.log", nil, "corosync", "-f"); err != nil {
		return 1
	}
	nodeLog("corosync %d", corosync)
	err = proc.Until(time.Minute, 100*time.Millisecond, func() error {
		if proc.Command(context.Background(), "corosync-cfgtool", "-s").Run() == nil {
			return nil
		}
		if daemons[corosync].Exited() {
			return proc.Abort(errors.New("corosync exited"))
		}
		return errors.New("corosync not answering")
	})
	if err != nil {
		nodeLog("%v: the node goes down", err)
		return 1
	}
	if pacemakerd, err = spawn("/var/log/pacemaker/stderr.log",
		[]string{"PCMK_logfile=/var/log/pacemaker/pacemaker.log", "PCMK_logfacility=none"}, "pacemakerd"); err != nil {
		return 1
	}
	nodeLog("pacemakerd %d; up", pacemakerd)
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
		// Orphans of the node are reaped here; a daemon is reaped
		// here or by its Proc, whichever comes first.
		exited := map[int]string{}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			exited[pid] = fmt.Sprint(ws)
		}
		for pid, p := range daemons {
			if _, ok := exited[pid]; !ok && p.Exited() {
				exited[pid] = "exited"
			}
		}
		for pid, how := range exited {
			n, ok := names[pid]
			if !ok {
				continue
			}
			nodeLog("%s exited: %v", n, how)
			delete(names, pid)
			delete(daemons, pid)
			if !stopping && (pid == corosync || pid == pacemakerd) {
				// As a real node would be fenced: it ends,
				// and the kernel ends every process in it.
				nodeLog("%s died: the node goes down", n)
				return 1
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
	for _, p := range private {
		if _, err := os.Stat(p); err != nil {
			continue // not installed here (pcs)
		}
		if err := unix.Mount(root+p, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %v", p, err)
		}
	}
	if c.Libvirt {
		lv := filepath.Join(c.nodeDir(i), "libvirt")
		for _, m := range libvirthost.StateMounts {
			if err := unix.Mount(filepath.Join(lv, m.Sub), m.Target, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %v", m.Target, err)
			}
		}
	}
	return nil
}

// waitCable waits until eth0 carries ip (Boot plugs it in after the
// node's PID 1 runs).
func waitCable(ip string, timeout time.Duration) error {
	return proc.Until(timeout, 50*time.Millisecond, func() error {
		if ifc, err := net.InterfaceByName("eth0"); err == nil && ifc.Flags&net.FlagUp != 0 {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
					return nil
				}
			}
		}
		return fmt.Errorf("no eth0 with %s", ip)
	})
}
