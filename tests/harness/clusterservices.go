package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Services is what Configure sets up in a cluster with pcs, as the
// classic guides do: a fence device per node (IPMI to the node's BMC,
// kept off the node it fences), and resources; every agent is paceline's
// unless Stock.
type Services struct {
	Stock bool // ocf:heartbeat:* and fence_ipmilan instead of paceline's
	// Group makes group "svc": Filesystem "fs" (the shared disk on
	// SharedDir), VirtualDomain "vm" when GroupVM, and IPaddr2 "vip"
	// (ClusterFloatIP/24).
	Group   bool
	GroupVM bool
	// LiveVM makes VirtualDomain "vm-live", alone, with allow-migrate:
	// a live migration over TCP when it moves.
	LiveVM bool
	// FsOptions are extra Filesystem parameters (name=value).
	FsOptions []string
	// FsStopTimeout, when set, is the timeout of fs's stop.
	FsStopTimeout string
	// FenceDelay, when set, is every fence device's pcmk_delay_base.
	FenceDelay string
	// Guest is the VM image (BuildGuestImage); needed with GroupVM or LiveVM.
	Guest GuestImage
}

// ClusterVIP is the floating IP Configure makes, with its prefix.
const ClusterVIP = ClusterFloatIP + "/24"

// VMSerial is the serial console file of Configure's guest name ("vm"
// or "vm-live"): on this machine, appended to by whichever node runs it.
func (c *Cluster) VMSerial(name string) string { return filepath.Join(c.Dir, "vm", name+".serial") }

// Configure sets s up with pcs on a live node, printing every pcs
// command to log, enables fencing, and waits until the cluster is idle.
func (c *Cluster) Configure(s Services, log io.Writer) error {
	ocf, fence := "ocf:paceline:", "fence_paceline_ipmilan"
	if s.Stock {
		ocf, fence = "ocf:heartbeat:", "fence_ipmilan"
	}
	var cmds [][]string
	add := func(args ...string) { cmds = append(cmds, args) }
	add("resource", "defaults", "update", "resource-stickiness=100")
	for i := 1; i <= c.Nodes; i++ {
		args := append([]string{"stonith", "create", "fence-" + NodeName(i), fence}, c.FenceParams(i)...)
		if s.FenceDelay != "" {
			args = append(args, "pcmk_delay_base="+s.FenceDelay)
		}
		add(append(args, "op", "monitor", "interval=60s")...)
		add("constraint", "location", "fence-"+NodeName(i), "avoids", NodeName(i))
	}
	if s.Group {
		if c.Loop == "" {
			return fmt.Errorf("configure: the cluster has no shared disk")
		}
		args := append([]string{"resource", "create", "fs", ocf + "Filesystem", "device=" + c.Loop,
			"directory=" + c.SharedDir(), "fstype=ext4"}, s.FsOptions...)
		args = append(args, "op", "monitor", "interval=20s")
		if s.FsStopTimeout != "" {
			args = append(args, "stop", "timeout="+s.FsStopTimeout)
		}
		add(append(args, "--group", "svc")...)
		if s.GroupVM {
			cfg, err := c.writeVM("vm", s.Guest)
			if err != nil {
				return err
			}
			add("resource", "create", "vm", ocf+"VirtualDomain", "config="+cfg, "hypervisor=qemu:///system",
				"op", "monitor", "interval=10s", "--group", "svc")
		}
		add("resource", "create", "vip", ocf+"IPaddr2", "ip="+ClusterFloatIP, "cidr_netmask=24",
			"op", "monitor", "interval=10s", "--group", "svc")
	}
	if s.LiveVM {
		cfg, err := c.writeVM("vm-live", s.Guest)
		if err != nil {
			return err
		}
		add("resource", "create", "vm-live", ocf+"VirtualDomain", "config="+cfg, "hypervisor=qemu:///system",
			"migration_transport=tcp", "op", "monitor", "interval=10s", "meta", "allow-migrate=true")
	}
	add("property", "set", "stonith-enabled=true")
	live := c.Live()
	if len(live) == 0 {
		return fmt.Errorf("configure: no node runs")
	}
	for _, args := range cmds {
		shown := strings.Join(args, " ")
		shown = strings.ReplaceAll(shown, "password="+DefaultBMCPassword, "password=...")
		fmt.Fprintf(log, "  # pcs %s\n", shown)
		if out, err := c.Exec(live[0], time.Minute, "pcs", args...); err != nil {
			return fmt.Errorf("pcs %s: %v\n%s", shown, err, out)
		}
	}
	return c.WaitIdle(3 * time.Minute)
}

// writeVM writes the domain XML of guest name, its serial console in
// VMSerial(name), and returns its path.
func (c *Cluster) writeVM(name string, img GuestImage) (string, error) {
	if img.Kernel == "" {
		return "", fmt.Errorf("configure: VM %s needs a guest image", name)
	}
	dir := filepath.Join(c.Dir, "vm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, name+".xml")
	return cfg, os.WriteFile(cfg, []byte(img.DomainXML(GuestSpec{Name: name, SerialPath: c.VMSerial(name)})), 0o644)
}

// WaitIdle waits until the cluster has nothing left to do
// (crm_resource --wait on a live node).
func (c *Cluster) WaitIdle(timeout time.Duration) error {
	var last error
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		for _, i := range c.informed() {
			out, err := c.Exec(i, time.Until(end)+5*time.Second, "crm_resource", "--wait",
				"--timeout="+strconv.Itoa(int(time.Until(end).Seconds())+1)+"s")
			if err == nil {
				return nil
			}
			last = fmt.Errorf("%s: crm_resource --wait: %v %s", NodeName(i), err, out)
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("cluster not idle after %v: %v", timeout, last)
}

// informed returns the nodes to ask about the cluster's state: the DC
// when a live node names one that runs, which sees itself as DC with
// quorum (a node that just joined, or one cut off, has a stale view of
// the resources); else every live node.
func (c *Cluster) informed() []int {
	live := c.Live()
	for _, i := range live {
		m, err := c.monitor(i)
		if err != nil || !m.Summary.DC.Present || !m.Summary.DC.WithQuorum {
			continue
		}
		var dc int
		if _, err := fmt.Sscanf(m.Summary.DC.Name, "node%d", &dc); err != nil || !c.Alive(dc) {
			continue
		}
		if dm, err := c.monitor(dc); err == nil && dm.Summary.DC.Name == NodeName(dc) && dm.Summary.DC.WithQuorum {
			return []int{dc}
		}
	}
	return live
}

// Locate returns the nodes rsc runs on, as the DC sees it.
func (c *Cluster) Locate(rsc string) ([]int, error) {
	err := errors.New("no node runs")
	for _, i := range c.informed() {
		var out string
		if out, err = c.Exec(i, 30*time.Second, "crm_resource", "--locate", "--resource", rsc); err != nil {
			// "resource X is NOT running" exits non-zero.
			if strings.Contains(out, "NOT running") {
				return nil, nil
			}
			continue
		}
		var nodes []int
		for _, m := range regexp.MustCompile(`is running on: node(\d+)`).FindAllStringSubmatch(out, -1) {
			n, _ := strconv.Atoi(m[1])
			nodes = append(nodes, n)
		}
		return nodes, nil
	}
	return nil, fmt.Errorf("locate %s: %v", rsc, err)
}

// LogEvent is a line of a node's pacemaker.log.
type LogEvent struct {
	Time time.Time
	Line string
}

// Events returns the lines of node i's pacemaker.log matching re, with
// their times (Pacemaker writes local time to the millisecond, without
// the year; the nodes run with TZ=UTC).
func (c *Cluster) Events(i int, re *regexp.Regexp) []LogEvent {
	f, err := os.Open(c.NodeLog(i))
	if err != nil {
		return nil
	}
	defer f.Close()
	return parseLogEvents(f, re, time.Now())
}

// parseLogEvents returns the lines of a pacemaker.log matching re, with
// their times. The lines carry no year: each gets the year that puts it
// nearest to ref (the time the log is read), so that a line of 31
// December read on 1 January is last year's.
func parseLogEvents(f io.Reader, re *regexp.Regexp, ref time.Time) []LogEvent {
	var ev []LogEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	ref = ref.UTC()
	for sc.Scan() {
		line := sc.Text()
		if !re.MatchString(line) || len(line) < 19 {
			continue
		}
		t, err := time.ParseInLocation("Jan _2 15:04:05.000", line[:19], time.UTC) // the nodes run with TZ=UTC
		if err != nil {
			continue
		}
		ev = append(ev, LogEvent{Time: nearestYear(t, ref), Line: line})
	}
	return ev
}

// nearestYear gives t (parsed without a year, so in year 0) the year,
// of ref's and the two around it, that puts it nearest to ref. A
// 29 February falls on 1 March in a year without one and is skipped.
func nearestYear(t, ref time.Time) time.Time {
	best := time.Time{}
	for _, y := range []int{ref.Year() - 1, ref.Year(), ref.Year() + 1} {
		c := time.Date(y, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		if c.Month() != t.Month() {
			continue
		}
		if best.IsZero() || c.Sub(ref).Abs() < best.Sub(ref).Abs() {
			best = c
		}
	}
	return best
}

// FirstEvent returns the first line of node i's log matching re at or
// after since.
func (c *Cluster) FirstEvent(i int, re *regexp.Regexp, since time.Time) (LogEvent, bool) {
	for _, e := range c.Events(i, re) {
		if !e.Time.Before(since.Truncate(time.Millisecond)) {
			return e, true
		}
	}
	return LogEvent{}, false
}

// ResultRE matches the controller's line for the result of op on rsc on
// node i, e.g. ResultRE("start", "vip", 2, "ok"). The result's case is
// ignored: Pacemaker 2.1 writes "ok" and "error", 3.0 "OK" and "Error".
func ResultRE(op, rsc string, i int, result string) *regexp.Regexp {
	return resultRE(op, rsc, NodeName(i), result)
}

func resultRE(op, rsc, node, result string) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`Result of %s operation for %s on %s: (?i:%s)`,
		regexp.QuoteMeta(op), regexp.QuoteMeta(rsc), regexp.QuoteMeta(node), regexp.QuoteMeta(result)))
}

// VIPAnswerer asks for ClusterFloatIP by ARP from the client address on
// the switch and returns the node whose eth0 answers (0: none does).
func (c *Cluster) VIPAnswerer() (int, error) {
	out, err := c.Switch(10*time.Second, "arping", "-c", "3", "-w", "5", "-I", "br0", ClusterFloatIP)
	m := regexp.MustCompile(`reply from [0-9.]+ \[([0-9A-Fa-f:]+)\]`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("no ARP reply for %s: %v\n%s", ClusterFloatIP, err, out)
	}
	macs := map[string]bool{}
	for _, x := range m {
		macs[strings.ToLower(x[1])] = true
	}
	if len(macs) > 1 {
		return 0, fmt.Errorf("%s answered from %d MACs: %s", ClusterFloatIP, len(macs), out)
	}
	for _, i := range c.Live() {
		mac, err := c.Exec(i, 10*time.Second, "cat", "/sys/class/net/eth0/address")
		if err == nil && macs[strings.ToLower(strings.TrimSpace(mac))] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s answered from %v, no live node's eth0", ClusterFloatIP, m[0][1])
}

// clusterSeq numbers the clusters of one test process.
var clusterSeq int

// StartCluster brings a cluster up for a test and waits until it is
// ready; cleanup takes it down and removes it (with the node logs in the
// test log when the test failed; PACELINE_KEEP_CLUSTER=1 keeps the state
// directory of a failed test).
func StartCluster(t testing.TB, spec ClusterSpec) *Cluster {
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
	RequireRoot(t, host...)
	requireIn(t, spec.Root, node...)
	clusterSeq++
	if spec.Tag == "" {
		spec.Tag = "p" + strconv.FormatInt(int64(os.Getpid()), 36) + strconv.FormatInt(int64(clusterSeq), 36)
	}
	SweepClusters(os.TempDir())
	if spec.Dir == "" {
		d, err := os.MkdirTemp("", "plc-")
		if err != nil {
			t.Fatal(err)
		}
		spec.Dir = d
		defer func() {
			if t.Failed() {
				_ = os.Remove(d) // when UpCluster failed (else Remove did it)
			}
		}()
	}
	spec.Owner = os.Getpid()
	start := time.Now()
	c, err := UpCluster(spec)
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

// FailoverSpec is the cluster of the cluster tier and of the bench's
// failover: 3 nodes with BMCs and a shared disk, a 1 s corosync token
// (a failure is seen in about 2 s instead of 4-5), and nodes that spend
// 5 s in "firmware" after a power-on, so that a fenced node comes back
// after the recovery, as a real one does.
func FailoverSpec(libvirt bool) ClusterSpec {
	return ClusterSpec{Nodes: 3, TokenMS: 1000, BMC: true, Libvirt: libvirt, SharedMiB: 64, BootDelay: 5 * time.Second}
}

// CheckInstalled checks that paceline is installed where Pacemaker looks
// (make install) and, when bin is set, that the installed binaries are
// bin and its paceline-fence and paceline-libvirt.
func CheckInstalled(bin string) error { return CheckInstalledAt("", bin) }

// CheckInstalledAt is CheckInstalled in the userspace root ("" for this
// machine's), where make install DESTDIR=root puts paceline.
func CheckInstalledAt(root, bin string) error {
	at := func(p string) string { return filepath.Join("/", root, p) }
	for _, p := range []string{"/usr/lib/ocf/resource.d/paceline/IPaddr2", "/usr/lib/ocf/resource.d/paceline/Filesystem",
		"/usr/lib/ocf/resource.d/paceline/VirtualDomain", "/usr/sbin/fence_paceline_ipmilan"} {
		// Stat through the links, which point at /usr/sbin/paceline
		// as the root sees it.
		if _, err := os.Lstat(at(p)); err != nil {
			return fmt.Errorf("paceline is not installed in %s (%v): run make install DESTDIR=%s", at("/"), err, root)
		}
	}
	if bin == "" {
		return nil
	}
	dir := filepath.Dir(bin)
	for _, p := range [][2]string{
		{bin, "/usr/sbin/paceline"},
		{filepath.Join(dir, "paceline-fence"), "/usr/libexec/paceline/paceline-fence"},
		{filepath.Join(dir, "paceline-libvirt"), "/usr/libexec/paceline/paceline-libvirt"},
	} {
		a, err1 := os.ReadFile(p[0])
		b, err2 := os.ReadFile(at(p[1]))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			return fmt.Errorf("%s is not %s: run make install DESTDIR=%s", at(p[1]), p[0], root)
		}
	}
	return nil
}
