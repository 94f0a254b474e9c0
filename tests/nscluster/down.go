package nscluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/proc"
)

// Start is Up for a test (the thin wrapper the tests and the bench use):
// it skips without what the cluster needs, removes the clusters of test
// runs that died before their cleanup (Sweep), brings the cluster up,
// owned by this process, and waits until it is ready. Cleanup takes it
// down and removes it, with the node logs in the test log when the test
// failed (PACELINE_KEEP_CLUSTER=1 keeps the state of a failed test).
func Start(t testing.TB, spec Spec) *Cluster {
	t.Helper()
	// This machine's: the cluster's making (keys, seed CIB, network,
	// disk) and the BMCs. The nodes': what they run, from their root.
	host := []string{"corosync-keygen", "cibadmin", "crm_attribute", "nsenter", "ip", "losetup", "mkfs.ext4", "arping"}
	node := []string{"corosync", "corosync-cfgtool", "pacemakerd", "crm_mon", "crm_resource", "pcs"}
	if spec.Libvirt {
		node = append(node, "libvirtd", "virsh", "qemu-system-x86_64")
	}
	if spec.BMC {
		host = append(host, "ipmi_sim", "ipmitool")
	}
	harness.RequireRoot(t, host...)
	harness.RequireIn(t, spec.Root, node...)
	Sweep(os.TempDir())
	spec.Owner = os.Getpid()
	start := time.Now()
	c, err := Up(spec)
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cluster state in %s:\n%s", c.Dir, c.LogTail(40))
			if os.Getenv("PACELINE_KEEP_CLUSTER") != "" {
				if err := c.Down(); err != nil {
					t.Errorf("cluster down: %v", err)
				}
				return
			}
		}
		if err := c.Remove(); err != nil {
			t.Errorf("cluster down: %v", err)
		}
	})
	if err := c.WaitReady(2 * time.Minute); err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("cluster of %d nodes ready in %v", c.Nodes, time.Since(start).Round(10*time.Millisecond))
	return c
}

// Down stops the cluster and removes everything it made but Dir: the
// BMCs first (so that no power-on boots a node again), then every node
// (SIGTERM, SIGKILL after 30 s), the switch namespace and the loop
// device. Taking down a cluster that is (partly) down is fine.
func (c *Cluster) Down() error {
	var errs []string
	// No boot from now on (Boot checks it under the node's lock).
	_ = os.WriteFile(filepath.Join(c.Dir, "down"), nil, 0o644)
	for i := 1; i <= c.Nodes; i++ {
		unlock, err := c.lockNode(i)
		if err == nil {
			unlock() // a boot in progress has finished
		}
	}
	for i := 1; i <= c.Nodes; i++ {
		if pid := c.bmc(i).RecordedPID(); pid > 0 {
			if left := proc.Kill([]int{pid}, 5*time.Second); len(left) > 0 {
				errs = append(errs, fmt.Sprintf("BMC %d survives SIGKILL", i))
			}
		}
		// Unplugged: a power-on waiting for its BootDelay sees it.
		_ = os.WriteFile(filepath.Join(c.bmcDir(i), "power"), []byte("0\n"), 0o600)
	}
	if left := proc.Kill(append(c.helpers("poweron"), c.helpers("power")...), 5*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Sprintf("power helpers survive SIGKILL: %v", left))
	}
	// The recorded nodes, and any init of this cluster that is not
	// recorded (none should be).
	if left := proc.Kill(c.helpers("node"), 30*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Sprintf("nodes survive SIGKILL: %v", left))
	}
	if c.Libvirt {
		for i := 1; i <= c.Nodes; i++ {
			_ = libvirthost.SaveCapabilities(c.Root, filepath.Join(c.nodeDir(i), "libvirt", "cache", "qemu", "capabilities"))
		}
	}
	if _, err := os.Stat("/run/netns/" + c.switchNS()); err == nil {
		if out, err := proc.Output(context.Background(), "ip", "netns", "del", c.switchNS()); err != nil {
			errs = append(errs, fmt.Sprintf("ip netns del %s: %v %s", c.switchNS(), err, out))
		}
	}
	if c.Loop != "" {
		// Ours only while it still stands for our image: a second Down
		// must not detach a device somebody else got since.
		back, _ := os.ReadFile("/sys/block/" + filepath.Base(c.Loop) + "/loop/backing_file")
		if strings.TrimSpace(string(back)) == filepath.Join(c.Dir, "shared.img") {
			// Mounts of the shared disk went with the nodes' mount
			// namespaces; a node still dying keeps it open: autoclear.
			if out, err := proc.Output(context.Background(), "losetup", "-d", c.Loop); err != nil && !strings.Contains(out, "No such device") {
				errs = append(errs, fmt.Sprintf("losetup -d %s: %v %s", c.Loop, err, out))
			}
		}
		c.mu.Lock()
		c.Loop = ""
		c.mu.Unlock()
		_ = c.save()
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Remove takes the cluster down and deletes Dir.
func (c *Cluster) Remove() error {
	if err := c.Down(); err != nil {
		return fmt.Errorf("%v (%s kept for another try)", err, c.Dir)
	}
	if harness.Mounted(c.SharedDir()) {
		_, _ = proc.Output(context.Background(), "umount", "-l", c.SharedDir())
	}
	return os.RemoveAll(c.Dir)
}

// Sweep removes the clusters under parent (plc-* dirs) whose owner
// process is gone: a test binary that was killed (a timeout, a signal)
// before its cleanup ran.
func Sweep(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "plc-*"))
	for _, d := range dirs {
		c, err := Open(d)
		if err != nil || c.Owner == 0 {
			continue
		}
		if c.Owner != os.Getpid() && proc.StartTime(c.Owner) != c.OwnerStart {
			fmt.Fprintf(os.Stderr, "removing the cluster in %s, left by process %d\n", d, c.Owner)
			_ = c.Remove()
		}
	}
}

// LogTail returns the end of every node's logs, for failure messages.
func (c *Cluster) LogTail(lines int) string {
	var b bytes.Buffer
	notices := regexp.MustCompile(`\) \t?(notice|warning|error|crit):|ERROR:|WARNING:`)
	for i := 1; i <= c.Nodes; i++ {
		root := filepath.Join(c.nodeDir(i), "root")
		fmt.Fprintf(&b, "=== %s (running: %v)\n", NodeName(i), c.Alive(i))
		b.WriteString(harness.Tail(filepath.Join(c.nodeDir(i), "init.log"), 10))
		fmt.Fprintf(&b, "--- pacemaker.log, notices and worse (last %d)\n", lines)
		ev := c.Events(i, notices)
		for _, e := range ev[max(len(ev)-lines, 0):] {
			b.WriteString(e.Line + "\n")
		}
		b.WriteString(harness.Tail(filepath.Join(root, "var/log/corosync/corosync.log"), 5))
	}
	for i := 1; c.BMC && i <= c.Nodes; i++ {
		fmt.Fprintf(&b, "=== BMC of %s\n%s", NodeName(i), harness.Tail(filepath.Join(c.bmcDir(i), "chassis.log"), 10))
	}
	return b.String()
}
