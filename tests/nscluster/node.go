package nscluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

// nodePath is the PATH of the nodes and of the commands run in them.
const nodePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Boot starts node i, unless it runs: its PID 1 in fresh namespaces,
// then its cable to the switch, with its address. It returns at once;
// the node joins the cluster a few seconds later.
func (c *Cluster) Boot(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.lockNode(i)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(c.Dir, "down")); err == nil {
		return fmt.Errorf("boot %s: the cluster is being taken down", NodeName(i))
	}
	if c.pidOf(i) > 0 {
		return nil
	}
	d := c.nodeDir(i)
	p, err := proc.Start(proc.Spec{
		Argv: c.helperArgv("node", strconv.Itoa(i)), Dir: "/",
		// TZ: the harness reads the nodes' log times as UTC.
		Env: []string{nodePath, "LC_ALL=C", "HOME=/root", "TZ=UTC"}, CleanEnv: true,
		Log: filepath.Join(d, "init.log"), Detach: true, PIDFile: filepath.Join(d, "pid"),
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID,
	})
	if err != nil {
		return fmt.Errorf("boot %s: %v", NodeName(i), err)
	}
	pid := p.PID()
	sw, cable, ns := c.switchNS(), c.cable(i), strconv.Itoa(pid)
	_, _ = proc.Output(context.Background(), "ip", "-n", sw, "link", "del", cable) // a dead node's cable, if any
	for _, argv := range [][]string{
		{"ip", "-n", sw, "link", "add", cable, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "-n", sw, "link", "set", cable, "master", "br0", "up"},
		{"nsenter", "-t", ns, "-n", "ip", "addr", "add", NodeIP(i) + "/24", "dev", "eth0"},
		{"nsenter", "-t", ns, "-n", "ip", "link", "set", "eth0", "up"},
	} {
		if o, err := proc.Output(context.Background(), argv[0], argv[1:]...); err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("boot %s: %s: %v\n%s", NodeName(i), strings.Join(argv, " "), err, o)
		}
	}
	return nil
}

// lockNode takes node i's boot lock (a flock: between processes too,
// the BMC hooks and plcluster).
func (c *Cluster) lockNode(i int) (func(), error) {
	return harness.LockFile(filepath.Join(c.Dir, NodeName(i)+".lock"))
}

// pidOf returns node i's PID 1 (as this machine sees it) when it runs.
func (c *Cluster) pidOf(i int) int {
	pid := proc.Recorded(filepath.Join(c.nodeDir(i), "pid"))
	if pid > 0 && !proc.ArgvIs(pid, c.helperArgv("node", strconv.Itoa(i))...) {
		return 0
	}
	return pid
}

// helpers returns the PIDs of this cluster's helper processes running
// command cmd.
func (c *Cluster) helpers(cmd string) []int {
	return proc.All(func(pid int) bool {
		a := proc.Cmdline(pid)
		return len(a) >= 4 && a[0] == c.Helper && a[1] == helperArg && a[2] == cmd && a[3] == c.Dir
	})
}

// Alive reports whether node i runs.
func (c *Cluster) Alive(i int) bool { return c.pidOf(i) > 0 }

// PID returns node i's PID 1 as this machine sees it, or 0.
func (c *Cluster) PID(i int) int { return c.pidOf(i) }

// Live returns the nodes that run.
func (c *Cluster) Live() []int {
	var l []int
	for i := 1; i <= c.Nodes; i++ {
		if c.Alive(i) {
			l = append(l, i)
		}
	}
	return l
}

// Kill crashes node i (SIGKILL to its PID 1) and waits until it is gone.
func (c *Cluster) Kill(i int) error {
	pid := c.pidOf(i)
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %v", NodeName(i), err)
	}
	if !proc.WaitGone([]int{pid}, 10*time.Second) {
		return fmt.Errorf("%s (PID %d) still there 10 s after SIGKILL", NodeName(i), pid)
	}
	return nil
}

// Stop shuts node i down cleanly (SIGTERM to its PID 1: pacemakerd
// stops the resources and itself, then corosync and libvirtd stop) and
// waits up to timeout; it kills the node after that.
func (c *Cluster) Stop(i int, timeout time.Duration) error {
	pid := c.pidOf(i)
	if pid == 0 {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if proc.WaitGone([]int{pid}, timeout) {
		return nil
	}
	_ = c.Kill(i)
	return fmt.Errorf("%s did not stop within %v; killed", NodeName(i), timeout)
}

// Cut unplugs node i's cable (its bridge port goes down); Heal plugs it in.
func (c *Cluster) Cut(i int) error  { return c.setCable(i, "down") }
func (c *Cluster) Heal(i int) error { return c.setCable(i, "up") }

func (c *Cluster) setCable(i int, state string) error {
	if out, err := proc.Output(context.Background(), "ip", "-n", c.switchNS(), "link", "set", c.cable(i), state); err != nil {
		return fmt.Errorf("cable of %s %s: %v\n%s", NodeName(i), state, err, out)
	}
	return nil
}

// Command returns a command that runs inside node i (its network,
// mount, UTS and PID namespaces), or an error when the node is down.
func (c *Cluster) Command(ctx context.Context, i int, name string, args ...string) (*proc.Cmd, error) {
	pid := c.pidOf(i)
	if pid == 0 {
		return nil, fmt.Errorf("%s is down", NodeName(i))
	}
	cmd := proc.Command(ctx, "nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "-m", "-u", "-p", "--", name}, args...)...)
	cmd.Env = []string{nodePath, "LC_ALL=C", "HOME=/root", "TERM=dumb"}
	cmd.WaitDelay = 2 * time.Second
	return cmd, nil
}

// Exec runs a command inside node i, for at most timeout, and returns
// its standard output and standard error.
func (c *Cluster) Exec(i int, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd, err := c.Command(ctx, i, name, args...)
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %v", timeout, err)
	}
	return string(out), err
}

// Switch runs a command in the switch namespace (where the client
// address and the BMCs are).
func (c *Cluster) Switch(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return proc.Output(ctx, "nsenter", append([]string{"--net=/run/netns/" + c.switchNS(), "--", name}, args...)...)
}
