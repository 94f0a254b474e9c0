package harness

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The DRBD guests as a two-node Pacemaker cluster, as the classic guides
// build it: each guest (StartDRBDPair) runs Corosync and Pacemaker from
// this machine's userspace, DRBD replicates over the guests' own link
// (eth0, 192.0.2.0/24), and the cluster talks over a second NIC (eth1,
// 198.51.100.0/24) on a bridge in a network namespace of its own, where
// each guest also has a BMC (ipmi_sim). A BMC's power off kills its
// guest's qemu, as a power cut; its power on boots the guest again after
// BootDelay, and the guest's "init" (this harness) starts the cluster
// stack, as a node's own boot would. The agents are paceline's, from
// where make install put them (the guests see this machine's /usr).

// DRBDLAN is the cluster's network; .1 is this machine's address there.
const DRBDLAN = "198.51.100"

// DRBDVIP is the floating address the tests and the demo configure.
const DRBDVIP = DRBDLAN + ".100"

// DRBDLANIP is guest i's (0: guest-a, 1: guest-b) cluster address.
func DRBDLANIP(i int) string { return fmt.Sprintf("%s.%d", DRBDLAN, 11+i) }

// DRBDBMCIP is guest i's BMC address, DRBDBMCPort its UDP port.
func DRBDBMCIP(i int) string { return fmt.Sprintf("%s.%d", DRBDLAN, 201+i) }

// DRBDBMCPort is guest i's BMC's UDP port (623, 624).
func DRBDBMCPort(i int) int { return 623 + i }

// DRBDClusterSpec tunes StartDRBDCluster.
type DRBDClusterSpec struct {
	BootDelay time.Duration // BMC power on to qemu start; 3 s when 0
	TokenMS   int           // corosync token timeout; 3000 when 0 (TCG guests are slow)
	Log       func(format string, args ...any)
	// Root is the userspace the guests run (DRBDPairSpec.Root), with
	// paceline installed in it; PCS then runs that root's pcs. Empty:
	// this machine's.
	Root string
	// NoFencePeer leaves DRBD's resource-level fencing out of Res: for a
	// userspace whose crm-fence-peer.sh does not work with its Pacemaker.
	NoFencePeer bool
}

// DRBDCluster is a running two-guest cluster.
type DRBDCluster struct {
	*DRBDPair
	NS   string // the LAN's network namespace
	BMCs [2]*BMC

	spec    DRBDClusterSpec
	authkey []byte
	seed    []byte
	started time.Time

	mu     sync.Mutex
	errs   []error
	power  [2]int // lines of each BMC's power request file handled
	stop   chan struct{}
	done   chan struct{}
	booter sync.WaitGroup // the power-on boots under way
}

// StartDRBDCluster starts the LAN, the BMCs and the guests, brings the
// cluster stack up in both and waits until both nodes are online with a
// DC. The cluster has no resources and stonith off (SeedCIB); Configure
// with pcs. Cleanup stops everything.
func StartDRBDCluster(t testing.TB, spec DRBDClusterSpec) *DRBDCluster {
	t.Helper()
	RequireRoot(t, "qemu-system-x86_64", "busybox", "ipmi_sim", "ipmitool", "nsenter", "ip", "cibadmin",
		"crm_attribute", "xmllint", "arping")
	requireIn(t, spec.Root, "drbdadm", "corosync", "pacemakerd", "pcs")
	err := CheckInstalledAt(spec.Root, "")
	Require(t, err == nil, "%v", err)
	if spec.BootDelay == 0 {
		spec.BootDelay = 3 * time.Second
	}
	if spec.TokenMS == 0 {
		spec.TokenMS = 3000
	}
	if spec.Log == nil {
		spec.Log = t.Logf
	}
	c := &DRBDCluster{NS: DRBDClusterNS(), spec: spec,
		stop: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	c.authkey = make([]byte, 256)
	if _, err := rand.Read(c.authkey); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "seed.xml")
	if err := writeSeedCIB(seed, "2s"); err != nil {
		t.Fatalf("drbd cluster: %v", err)
	}
	if c.seed, err = os.ReadFile(seed); err != nil {
		t.Fatal(err)
	}

	// The LAN: a bridge with a fixed MAC (a bridge takes its ports'
	// lowest MAC otherwise, and changes it when a guest dies), this
	// machine's address, and a tap device per guest.
	_ = exec.Command("ip", "netns", "del", c.NS).Run()
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", c.NS).CombinedOutput(); err != nil {
			t.Errorf("drbd cluster: ip netns del %s: %v %s", c.NS, err, out)
		}
	})
	taps := [2]string{c.NS + "-a", c.NS + "-b"}
	for _, argv := range [][]string{
		{"ip", "netns", "add", c.NS},
		{"ip", "-n", c.NS, "link", "set", "lo", "up"},
		{"ip", "-n", c.NS, "link", "add", "br0", "address", "02:00:00:00:03:01", "type", "bridge"},
		{"ip", "-n", c.NS, "addr", "add", DRBDLAN + ".1/24", "dev", "br0"},
		{"ip", "-n", c.NS, "addr", "add", DRBDBMCIP(0) + "/24", "dev", "br0"},
		{"ip", "-n", c.NS, "addr", "add", DRBDBMCIP(1) + "/24", "dev", "br0"},
		{"ip", "-n", c.NS, "link", "set", "br0", "up"},
		{"ip", "-n", c.NS, "tuntap", "add", "dev", taps[0], "mode", "tap"},
		{"ip", "-n", c.NS, "tuntap", "add", "dev", taps[1], "mode", "tap"},
		{"ip", "-n", c.NS, "link", "set", taps[0], "master", "br0", "up"},
		{"ip", "-n", c.NS, "link", "set", taps[1], "master", "br0", "up"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("drbd cluster: %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}

	reqDir := t.TempDir()
	for i := range c.BMCs {
		c.BMCs[i] = StartBMC(t, BMCSpec{
			// Ports of their own: StartBMC refuses a port another socket
			// in the namespace has, whatever the address.
			Name: "bmc-" + []string{"a", "b"}[i], Addr: DRBDBMCIP(i), Port: DRBDBMCPort(i),
			Wrap: []string{"nsenter", "--net=/run/netns/" + c.NS, "--"},
			// The hook only records the request; the watcher acts on it.
			PowerHook: []string{"sh", "-c", `echo "$0" >> ` + shellQuote(filepath.Join(reqDir, strconv.Itoa(i)))},
		})
	}

	c.DRBDPair = StartDRBDPair(t, DRBDPairSpec{DiskMiB: 64, MemMiB: 512, LAN: c.NS,
		LANIPs: [2]string{DRBDLANIP(0) + "/24", DRBDLANIP(1) + "/24"}, LANTap: taps, Root: spec.Root})
	if err := c.Parallel(c.nodeUp); err != nil {
		t.Fatalf("drbd cluster: %v", err)
	}
	go c.watchPower(reqDir)
	t.Cleanup(func() {
		close(c.stop)
		<-c.done
		c.booter.Wait() // before the pair's cleanup halts the guests
		for _, err := range c.Errors() {
			t.Errorf("drbd cluster: %v", err)
		}
		if t.Failed() {
			for _, g := range c.Guests() {
				if g.Running() {
					out, _, _ := g.Exec(context.Background(), "tail -n 60 /var/log/pacemaker/pacemaker.log")
					t.Logf("%s pacemaker.log (tail):\n%s", g.Name(), out)
				}
			}
		}
	})
	if err := c.WaitReady(3 * time.Minute); err != nil {
		t.Fatalf("drbd cluster: %v", err)
	}
	c.spec.Log("drbd cluster: both nodes online after %v", time.Since(c.started).Round(100*time.Millisecond))
	return c
}

// DRBDClusterNS is the name of the LAN namespace of this process's
// cluster (one per process): what to remove when it is interrupted.
func DRBDClusterNS() string { return fmt.Sprintf("pldc%d", os.Getpid()%100000) }

// Errors returns what went wrong in the background (power requests).
func (c *DRBDCluster) Errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

func (c *DRBDCluster) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// nodeUp starts the cluster stack in a guest that has just booted: the
// clock from this machine (so that log times compare), corosync.conf
// and the authkey, the seed CIB, corosync, then pacemakerd.
func (c *DRBDCluster) nodeUp(g *DRBDGuest) error {
	conf := corosyncConfig("pldrbd", c.spec.TokenMS, []string{"guest-a", "guest-b"}, []string{DRBDLANIP(0), DRBDLANIP(1)})
	script := fmt.Sprintf(`set -e
date -s @%s >/dev/null
mkdir -p /etc/corosync /var/log/corosync /var/log/pacemaker /var/lib/corosync /run/resource-agents
base64 -d > /etc/corosync/authkey <<'PACELINE_EOF'
%s
PACELINE_EOF
chmod 400 /etc/corosync/authkey
cat > /etc/corosync/corosync.conf <<'PACELINE_EOF'
%sPACELINE_EOF
rm -rf /var/lib/pacemaker/cib /var/lib/pacemaker/pengine
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
cat > /var/lib/pacemaker/cib/cib.xml <<'PACELINE_EOF'
%sPACELINE_EOF
chmod 600 /var/lib/pacemaker/cib/cib.xml
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
chmod 750 /var/lib/pacemaker/cib /var/lib/pacemaker/pengine
chmod 770 /var/log/pacemaker
export TZ=UTC
setsid corosync -f </dev/null >>/var/log/corosync/stdout.log 2>&1 &
for i in $(seq 150); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.2; done
corosync-cfgtool -s >/dev/null
PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none setsid pacemakerd </dev/null >>/var/log/pacemaker/stdout.log 2>&1 &
`, strconv.FormatFloat(float64(time.Now().UnixNano())/1e9, 'f', 3, 64),
		base64.StdEncoding.EncodeToString(c.authkey), conf, c.seed)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, rc, err := g.Exec(ctx, script)
	if err == nil && rc != 0 {
		err = fmt.Errorf("exit %d", rc)
	}
	if err != nil {
		return fmt.Errorf("%s: cluster stack: %v\n%s", g.Name(), err, out)
	}
	return nil
}

// watchPower carries out the BMCs' power requests: off kills the
// guest's qemu at once; on boots it BootDelay later (unless the power
// went off again) and starts its cluster stack.
func (c *DRBDCluster) watchPower(dir string) {
	defer close(c.done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		for i, g := range c.Guests() {
			data, _ := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)))
			lines := strings.Fields(string(data))
			for ; c.power[i] < len(lines); c.power[i]++ {
				switch lines[c.power[i]] {
				case "0":
					if err := g.halt(func() { _ = g.cmd.Process.Kill() }); err != nil {
						c.fail(fmt.Errorf("%s power off: %v", g.Name(), err))
					}
					c.spec.Log("%s: BMC power off: qemu killed", g.Name())
				case "1":
					c.booter.Add(1)
					go c.powerOn(g, c.BMCs[i])
				}
			}
		}
	}
}

func (c *DRBDCluster) powerOn(g *DRBDGuest, b *BMC) {
	defer c.booter.Done()
	select {
	case <-c.stop:
		return
	case <-time.After(c.spec.BootDelay):
	}
	if !b.Power() || g.Running() {
		return
	}
	select {
	case <-c.stop:
		return
	default:
	}
	c.spec.Log("%s: BMC power on: booting", g.Name())
	defer func() {
		if p := recover(); p != nil {
			c.fail(fmt.Errorf("%s power on: %v", g.Name(), p))
		}
	}()
	if err := g.boot(silentTB{}); err != nil {
		c.fail(fmt.Errorf("%s power on: %v", g.Name(), err))
		return
	}
	if err := g.rewriteResources(); err != nil {
		c.fail(err)
		return
	}
	if err := c.nodeUp(g); err != nil {
		c.fail(err)
		return
	}
	c.spec.Log("%s: booted, cluster stack started", g.Name())
}

// silentTB is the testing.TB of boots the watcher makes: boot logs
// through it only.
type silentTB struct{ testing.TB }

func (silentTB) Helper()                   {}
func (silentTB) Logf(string, ...any)       {}
func (silentTB) Cleanup(func())            {}
func (silentTB) Failed() bool              { return false }
func (silentTB) Name() string              { return "drbd-cluster-power" }
func (silentTB) TempDir() string           { return os.TempDir() }
func (silentTB) Errorf(string, ...any)     {}
func (silentTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// Status is what crm_mon says, seen from guest i.
func (c *DRBDCluster) Status(i int) (*crmMon, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, rc, err := c.Guest(i).Exec(ctx, "crm_mon -1 --output-as=xml")
	if err == nil && rc != 0 {
		err = fmt.Errorf("crm_mon exit %d: %s", rc, out)
	}
	if err != nil {
		return nil, err
	}
	m := &crmMon{}
	if err := xml.Unmarshal([]byte(out[max(strings.Index(out, "<"), 0):]), m); err != nil {
		return nil, fmt.Errorf("crm_mon output: %v", err)
	}
	return m, nil
}

// WaitReady waits until a running guest sees both nodes online and a DC.
func (c *DRBDCluster) WaitReady(timeout time.Duration) error {
	_, err := c.untilSeen(timeout, func(i int) (bool, string) {
		m, err := c.Status(i)
		if err != nil {
			return false, err.Error()
		}
		online := 0
		for _, n := range m.Nodes {
			if n.Online {
				online++
			}
		}
		return m.Summary.DC.Present && online == 2,
			fmt.Sprintf("%s sees %d nodes online, DC present %v", c.Guest(i).Name(), online, m.Summary.DC.Present)
	})
	if err != nil {
		return fmt.Errorf("cluster not ready: %v", err)
	}
	return nil
}

// untilSeen asks check about every running guest, every second, until
// it holds for one (whose index it returns) or timeout passes (the
// error then has check's last word).
func (c *DRBDCluster) untilSeen(timeout time.Duration, check func(i int) (bool, string)) (int, error) {
	deadline := time.Now().Add(timeout)
	last := "no guest running"
	for time.Now().Before(deadline) {
		if errs := c.Errors(); len(errs) > 0 { // a power-on failed: no use waiting
			return -1, errors.Join(errs...)
		}
		for i, g := range c.Guests() {
			if !g.Running() {
				continue
			}
			ok, state := check(i)
			if ok {
				return i, nil
			}
			last = state
		}
		time.Sleep(time.Second)
	}
	return -1, fmt.Errorf("not within %v: %s", timeout, last)
}

// PCS runs pcs commands against the cluster's configuration the way
// "pcs -f" does on a CIB file: the CIB is read from a running guest,
// changed here with the pcs of the guests' userspace (this machine's,
// or the root's; it knows the agents from make install), and its
// configuration section replaced in one cibadmin call. pcs in a TCG
// guest takes seconds per call; the result is the same.
func (c *DRBDCluster) PCS(t testing.TB, via int, cmds ...[]string) {
	t.Helper()
	g := c.Guest(via)
	cib := filepath.Join(t.TempDir(), "cib.xml")
	if err := os.WriteFile(cib, []byte(g.MustExec(t, "cibadmin --query")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, argv := range cmds {
		args := append([]string{"-f", cib}, argv...)
		var out []byte
		var err error
		if c.spec.Root == "" {
			out, err = exec.Command("pcs", args...).CombinedOutput()
		} else {
			var s string
			s, err = InRoot(t, c.spec.Root, 2*time.Minute, "pcs", args...)
			out = []byte(s)
		}
		if err != nil {
			t.Fatalf("pcs %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	conf, err := exec.Command("xmllint", "--xpath", "/cib/configuration", cib).Output()
	if err != nil {
		t.Fatalf("xmllint: %v", err)
	}
	g.MustExec(t, fmt.Sprintf("cat > /run/pl-config.xml <<'PACELINE_EOF'\n%s\nPACELINE_EOF\ncibadmin --replace --scope configuration --xml-file /run/pl-config.xml", conf))
}

// Fencing returns the pcs commands that create a fence device per
// guest (fence_paceline_ipmilan to its BMC), each kept off the guest it
// fences, and enable stonith.
func (c *DRBDCluster) Fencing() [][]string {
	var cmds [][]string
	for i, n := range []string{"guest-a", "guest-b"} {
		u := c.BMCs[i].Admin()
		cmds = append(cmds,
			[]string{"stonith", "create", "fence-" + n, "fence_paceline_ipmilan", "ip=" + DRBDBMCIP(i), "ipport=" + strconv.Itoa(DRBDBMCPort(i)),
				"username=" + u.Name, "password=" + u.Password, "lanplus=1", "cipher=3", "pcmk_host_list=" + n},
			[]string{"constraint", "location", "fence-" + n, "avoids", n})
	}
	return append(cmds, []string{"property", "set", "stonith-enabled=true"})
}

// Log returns guest i's pacemaker log ("" when the guest is down: its
// logs are on its tmpfs and go with it, as with a crash).
func (c *DRBDCluster) Log(i int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _, err := c.Guest(i).Exec(ctx, "cat /var/log/pacemaker/pacemaker.log")
	if err != nil {
		return ""
	}
	return out
}

// Role returns DRBD's "role/disk state" of resource res in guest i, as
// drbdadm prints them (e.g. "Primary/UpToDate").
func (c *DRBDCluster) Role(i int, res string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, rc, err := c.Guest(i).Exec(ctx, fmt.Sprintf("echo $(drbdadm role %[1]s 2>&1)/$(drbdadm dstate %[1]s 2>&1)", res))
	if err == nil && rc != 0 {
		err = errors.New(out)
	}
	f := strings.Split(strings.TrimSpace(out), "/")
	if err != nil || len(f) < 3 {
		return strings.TrimSpace(out), err
	}
	return f[0] + "/" + f[2], nil
}

// Timeline gathers the failover's events at or after since from both
// guests' pacemaker logs (a guest that is down has none) and the BMCs.
func (c *DRBDCluster) Timeline(since time.Time) []TimelineEntry {
	var tl []TimelineEntry
	seen := map[string]bool{}
	since = since.Truncate(time.Millisecond)
	for i, g := range c.Guests() {
		ev := parseLogEvents(strings.NewReader(c.Log(i)), timelineLines, time.Now())
		tl = append(tl, timelineOf(g.Name(), ev, since, seen)...)
	}
	for i, b := range c.BMCs {
		for _, e := range b.PowerEvents() {
			if e.At.Before(since) {
				continue
			}
			what := "power off: " + c.Guest(i).Name() + " dies"
			if e.On {
				what = "power on: " + c.Guest(i).Name() + " boots"
			}
			tl = append(tl, TimelineEntry{Time: e.At, Node: "BMC " + c.Guest(i).Name(), What: what})
		}
	}
	sort.SliceStable(tl, func(a, b int) bool { return tl[a].Time.Before(tl[b].Time) })
	return tl
}

// RscState is one resource instance as crm_mon shows it.
type RscState struct {
	ID, Role, Node string
	Failed         bool
}

// Resources lists the resource instances crm_mon shows from guest i
// (clone instances and group members included).
func (c *DRBDCluster) Resources(i int) ([]RscState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, rc, err := c.Guest(i).Exec(ctx, "crm_mon -1 -r --output-as=xml")
	if err == nil && rc != 0 {
		err = fmt.Errorf("crm_mon exit %d: %s", rc, out)
	}
	if err != nil {
		return nil, err
	}
	d := xml.NewDecoder(strings.NewReader(out[max(strings.Index(out, "<"), 0):]))
	var list []RscState
	var cur *RscState
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch se.Name.Local {
		case "resource":
			list = append(list, RscState{ID: attr("id"), Role: attr("role"), Failed: attr("failed") == "true"})
			cur = &list[len(list)-1]
		case "node":
			if cur != nil && cur.Node == "" {
				cur.Node = attr("name")
			}
		case "node_history", "failures", "fence_history":
			cur = nil
		}
	}
	return list, nil
}

// Where returns the nodes where resource id has role ("Started",
// "Promoted", "Unpromoted"), as guest i sees it.
func (c *DRBDCluster) Where(i int, id, role string) ([]string, error) {
	list, err := c.Resources(i)
	if err != nil {
		return nil, err
	}
	var nodes []string
	for _, r := range list {
		if r.ID == id && r.Role == role && r.Node != "" {
			nodes = append(nodes, r.Node)
		}
	}
	return nodes, nil
}

// GuestIndex is the index of the guest called name (-1 if none).
func (c *DRBDCluster) GuestIndex(name string) int {
	for i, g := range c.Guests() {
		if g.Name() == name {
			return i
		}
	}
	return -1
}

// DRBDRes is the DRBD resource of the services: fencing resource-only
// with Pacemaker's handlers, as the guides configure it, so that a
// disconnected primary forbids promoting its stale peer until the peer
// has resynced.
func DRBDRes(twoPrimaries bool) DRBDResource {
	return DRBDResource{Name: "r0", TwoPrimaries: twoPrimaries, Disk: "fencing resource-only;",
		Handlers: `fence-peer "/usr/lib/drbd/crm-fence-peer.sh"; after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";`}
}

// Res is the cluster's DRBD resource r0: DRBDRes, without the
// fence-peer handlers when the spec says they cannot work.
func (c *DRBDCluster) Res(twoPrimaries bool) DRBDResource {
	r := DRBDRes(twoPrimaries)
	if c.spec.NoFencePeer {
		r.Disk, r.Handlers = "", ""
	}
	return r
}

// ServicesPCS are the pcs commands of the active/passive services of the
// guides: ocf:paceline:drbd as a promotable clone, and a group of an ext4
// ocf:paceline:Filesystem on /dev/drbd0 and an ocf:paceline:IPaddr2,
// colocated with and ordered after the promoted instance.
func ServicesPCS() [][]string {
	return [][]string{
		{"resource", "defaults", "update", "resource-stickiness=100"},
		{"resource", "create", "drbd_r0", "ocf:paceline:drbd", "drbd_resource=r0",
			"op", "monitor", "interval=10s", "role=Promoted", "op", "monitor", "interval=11s", "role=Unpromoted",
			"promotable", "promoted-max=1", "promoted-node-max=1", "clone-max=2", "clone-node-max=1", "notify=true"},
		{"resource", "create", "fs", "ocf:paceline:Filesystem", "device=/dev/drbd0", "directory=/srv/data",
			"fstype=ext4", "--group", "svc"},
		{"resource", "create", "vip", "ocf:paceline:IPaddr2", "ip=" + DRBDVIP, "cidr_netmask=24", "nic=eth1", "--group", "svc"},
		{"constraint", "colocation", "add", "svc", "with", "Promoted", "drbd_r0-clone", "INFINITY"},
		{"constraint", "order", "promote", "drbd_r0-clone", "then", "start", "svc"},
	}
}

// SetupServices prepares r0 (metadata, initial sync skipped, an ext4
// filesystem, then down: Pacemaker brings it up), configures fencing and
// the services with pcs, and waits until the group runs on the promoted
// node, whose index it returns.
func (c *DRBDCluster) SetupServices(t testing.TB) int {
	t.Helper()
	c.WriteResource(t, "r0", c.Res(false).Text())
	c.UpConnected(t, "r0")
	c.A.MustExec(t, "set -e; drbdadm primary r0; mkfs.ext4 -q -F -L data /dev/drbd0; drbdadm secondary r0")
	for _, g := range c.Guests() {
		g.MustExec(t, "drbdadm down r0")
	}
	c.PCS(t, 0, append(c.Fencing(), ServicesPCS()...)...)
	return c.WaitServices(t, -1, 3*time.Minute)
}

// WaitServices waits until drbd_r0 is promoted on one node (guest want,
// unless want is -1) and fs and vip run there, as a running guest sees
// it, and returns that node's index.
func (c *DRBDCluster) WaitServices(t testing.TB, want int, timeout time.Duration) int {
	t.Helper()
	var p int
	_, err := c.untilSeen(timeout, func(i int) (bool, string) {
		list, err := c.Resources(i)
		if err != nil {
			return false, err.Error()
		}
		where := map[string]string{}
		for _, r := range list {
			if r.Node != "" && (r.Role == "Promoted" || r.Role == "Started") {
				where[r.ID+"/"+r.Role] = r.Node
			}
		}
		n := where["drbd_r0/Promoted"]
		p = c.GuestIndex(n)
		return n != "" && where["fs/Started"] == n && where["vip/Started"] == n && (want < 0 || p == want), fmt.Sprint(where)
	})
	if err != nil {
		t.Fatalf("the services did not run on a promoted node: %v", err)
	}
	return p
}

// WriteData writes a file of 4 MiB of random data on the filesystem
// mounted in guest i (/srv/data), flushes it, and returns its checksum.
func (c *DRBDCluster) WriteData(t testing.TB, i int, name string) string {
	t.Helper()
	out := c.Guest(i).MustExec(t, fmt.Sprintf(
		"set -e; dd if=/dev/urandom of=/srv/data/%[1]s bs=1M count=4 status=none; sync; sha256sum /srv/data/%[1]s", name))
	return strings.Fields(out)[0]
}

// Checksum returns the checksum of a file on guest i's filesystem, or
// what went wrong.
func (c *DRBDCluster) Checksum(t testing.TB, i int, name string) string {
	t.Helper()
	out, rc := c.Guest(i).Run(t, 60*time.Second, "sha256sum /srv/data/"+name+" 2>&1")
	if f := strings.Fields(out); rc == 0 && len(f) > 0 {
		return f[0]
	}
	return strings.TrimSpace(out)
}

// WaitSynced waits until r0 is connected and UpToDate on both guests.
func (c *DRBDCluster) WaitSynced(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var states []string
	for time.Now().Before(deadline) {
		states = states[:0]
		ok := true
		for _, g := range c.Guests() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, _, err := g.Exec(ctx, "echo $(drbdadm cstate r0) $(drbdadm dstate r0)")
			cancel()
			s := strings.TrimSpace(out)
			if err != nil {
				s = err.Error()
			}
			states = append(states, g.Name()+": "+s)
			ok = ok && err == nil && s == "Connected UpToDate/UpToDate"
		}
		if ok {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("r0 not connected and UpToDate on both guests within %v: %s", timeout, strings.Join(states, "; "))
}

// Crash is what CrashPrimary did and saw.
type Crash struct {
	Primary, Survivor int
	At                time.Time     // the kill
	Recovered         time.Duration // from the kill until the services ran on the survivor
	File, Sum         string        // written, synced and replicated before the crash
}

// CrashPrimary writes a file on the primary's filesystem, waits until
// DRBD has it on both sides, crashes the primary (its qemu killed, as a
// power cut) and waits until the services run on the survivor, which is
// promoted once the primary is fenced.
func (c *DRBDCluster) CrashPrimary(t testing.TB, primary int, file string) Crash {
	t.Helper()
	cr := Crash{Primary: primary, Survivor: 1 - primary, File: file}
	cr.Sum = c.WriteData(t, primary, file)
	c.WaitSynced(t, time.Minute)
	cr.At = time.Now()
	c.Guest(primary).Kill(t)
	c.WaitServices(t, cr.Survivor, 3*time.Minute)
	cr.Recovered = time.Since(cr.At)
	return cr
}

// Count returns how many lines of guest i's pacemaker.log contain text,
// failing the test when the log cannot be read. Counting before and
// after an event needs no clock shared between the guests and here.
func (c *DRBDCluster) Count(t testing.TB, i int, text string) int {
	t.Helper()
	if strings.Contains(text, "'") {
		t.Fatalf("Count: quote in %q", text)
	}
	out, rc := c.Guest(i).Run(t, time.Minute, "grep -c -F -e '"+text+"' /var/log/pacemaker/pacemaker.log")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if rc > 1 || err != nil {
		t.Fatalf("%s: counting %q in pacemaker.log: exit %d: %s", c.Guest(i).Name(), text, rc, out)
	}
	return n
}

// CountResult returns how many times guest i's pacemaker.log reports
// op of rsc on that guest as successful ("ok" in Pacemaker 2.1, "OK" in
// 3.0).
func (c *DRBDCluster) CountResult(t testing.TB, i int, op, rsc string) int {
	t.Helper()
	out, rc := c.Guest(i).Run(t, time.Minute, fmt.Sprintf("grep -c -i -F -e 'Result of %s operation for %s on %s: ok' /var/log/pacemaker/pacemaker.log",
		op, rsc, c.Guest(i).Name()))
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if rc > 1 || err != nil {
		t.Fatalf("%s: counting the results of %s %s: exit %d: %s", c.Guest(i).Name(), op, rsc, rc, out)
	}
	return n
}

// VIPAnswerer returns the guest whose eth1 answers ARP for DRBDVIP on the
// cluster's network, asked from this machine's side of the bridge.
func (c *DRBDCluster) VIPAnswerer() (int, error) {
	out, err := exec.Command("ip", "netns", "exec", c.NS, "arping", "-c", "1", "-w", "3", "-I", "br0", DRBDVIP).CombinedOutput()
	for i := range c.Guests() {
		if strings.Contains(strings.ToLower(string(out)), fmt.Sprintf("52:54:00:00:03:%02x", 0x11+i)) {
			return i, nil
		}
	}
	return -1, fmt.Errorf("arping %s: %v\n%s", DRBDVIP, err, out)
}
