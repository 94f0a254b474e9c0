package drbdlab

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/ipmi"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// The DRBD guests as a two-node Pacemaker cluster, as the classic guides
// build it: each guest (StartPair) runs Corosync and Pacemaker from this
// machine's userspace, DRBD replicates over the guests' own link (eth0,
// 192.0.2.0/24), and the cluster talks over a second NIC (eth1,
// 198.51.100.0/24) on a bridge in a network namespace of its own, where
// each guest also has a BMC (ipmi_sim). A BMC's power off kills its
// guest's qemu, as a power cut; its power on boots the guest again after
// BootDelay, and the harness starts the cluster stack in it (nodeup.sh),
// as a node's own boot would. The agents are paceline's, from where make
// install put them (the guests see this machine's /usr).

// LAN is the cluster's network; .1 is this machine's address there.
const LAN = "198.51.100"

// ClusterName is the cluster's name in corosync.conf, which a cluster
// filesystem's lock table names too.
const ClusterName = "pldrbd"

// VIP is the floating address the tests and the demo configure.
const VIP = LAN + ".100"

// LANIP is guest i's (0: guest-a, 1: guest-b) cluster address.
func LANIP(i int) string { return fmt.Sprintf("%s.%d", LAN, 11+i) }

// BMCIP is guest i's BMC address.
func BMCIP(i int) string { return fmt.Sprintf("%s.%d", LAN, 201+i) }

// BMCPort is guest i's BMC's UDP port (623, 624).
func BMCPort(i int) int { return 623 + i }

// ClientIP is the NFS client's address on the LAN (ClusterSpec.Client).
const ClientIP = LAN + ".31"

// lanMAC is guest i's MAC on the LAN (2: the client).
func lanMAC(i int) string { return fmt.Sprintf("52:54:00:00:03:%02x", 0x11+i) }

// ClusterSpec tunes StartCluster.
type ClusterSpec struct {
	BootDelay time.Duration // BMC power on to qemu start; 3 s when 0
	TokenMS   int           // corosync token timeout; 3000 when 0 (TCG guests are slow)
	Log       func(format string, args ...any)
	// Root is the userspace the guests run (PairSpec.Root), with
	// paceline installed in it; PCS then runs that root's pcs. Empty:
	// this machine's.
	Root string
	// NoFencePeer leaves DRBD's resource-level fencing out of Res: for a
	// userspace whose crm-fence-peer.sh does not work with its Pacemaker.
	NoFencePeer bool
	// Shared is a disk image both guests share (PairSpec.Shared).
	Shared string
	// Client adds a third guest, "client", on the LAN only (ClientIP):
	// not a cluster node, no BMC; a machine that uses the services.
	Client bool
}

// Cluster is a running two-guest cluster.
type Cluster struct {
	*Pair
	NS     string // the LAN's network namespace
	BMCs   [2]*ipmi.BMC
	Client *Guest // with ClusterSpec.Client

	spec    ClusterSpec
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

//go:embed nodeup.sh
var nodeUpScript string

var nodeUpTemplate = template.Must(template.New("nodeup").Parse(nodeUpScript))

// StartCluster starts the LAN, the BMCs and the guests, brings the
// cluster stack up in both and waits until both nodes are online with a
// DC: the one way to make a DRBD cluster. The cluster has no resources
// and stonith off (the seed CIB); configure it with PCS. Cleanup stops
// everything.
func StartCluster(t testing.TB, spec ClusterSpec) *Cluster {
	t.Helper()
	harness.RequireRoot(t, "qemu-system-x86_64", "busybox", "ipmi_sim", "ipmitool", "nsenter", "ip", "cibadmin",
		"crm_attribute", "xmllint", "arping")
	harness.RequireIn(t, spec.Root, "drbdadm", "corosync", "pacemakerd", "pcs")
	err := harness.CheckInstalledAt(spec.Root, "")
	harness.Require(t, err == nil, "%v", err)
	if spec.BootDelay == 0 {
		spec.BootDelay = 3 * time.Second
	}
	if spec.TokenMS == 0 {
		spec.TokenMS = 3000
	}
	if spec.Log == nil {
		spec.Log = t.Logf
	}
	c := &Cluster{NS: NS(), spec: spec, stop: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	c.authkey = make([]byte, 256)
	if _, err := rand.Read(c.authkey); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "seed.xml")
	if err := pcmk.WriteSeedCIB(seed, "2s"); err != nil {
		t.Fatalf("drbd cluster: %v", err)
	}
	if c.seed, err = os.ReadFile(seed); err != nil {
		t.Fatal(err)
	}

	// The LAN: a bridge with a fixed MAC (a bridge takes its ports'
	// lowest MAC otherwise, and changes it when a guest dies), this
	// machine's address, and a tap device per guest.
	_, _ = proc.Output(context.Background(), "ip", "netns", "del", c.NS)
	t.Cleanup(func() {
		if out, err := proc.Output(context.Background(), "ip", "netns", "del", c.NS); err != nil {
			t.Errorf("drbd cluster: ip netns del %s: %v %s", c.NS, err, out)
		}
	})
	taps := [2]string{c.NS + "-a", c.NS + "-b"}
	clientTap := c.NS + "-c"
	setup := [][]string{
		{"ip", "netns", "add", c.NS},
		{"ip", "-n", c.NS, "link", "set", "lo", "up"},
		{"ip", "-n", c.NS, "link", "add", "br0", "address", "02:00:00:00:03:01", "type", "bridge"},
		{"ip", "-n", c.NS, "addr", "add", LAN + ".1/24", "dev", "br0"},
		{"ip", "-n", c.NS, "addr", "add", BMCIP(0) + "/24", "dev", "br0"},
		{"ip", "-n", c.NS, "addr", "add", BMCIP(1) + "/24", "dev", "br0"},
		{"ip", "-n", c.NS, "link", "set", "br0", "up"},
		{"ip", "-n", c.NS, "tuntap", "add", "dev", taps[0], "mode", "tap"},
		{"ip", "-n", c.NS, "tuntap", "add", "dev", taps[1], "mode", "tap"},
		{"ip", "-n", c.NS, "link", "set", taps[0], "master", "br0", "up"},
		{"ip", "-n", c.NS, "link", "set", taps[1], "master", "br0", "up"},
	}
	if spec.Client {
		setup = append(setup, []string{"ip", "-n", c.NS, "tuntap", "add", "dev", clientTap, "mode", "tap"},
			[]string{"ip", "-n", c.NS, "link", "set", clientTap, "master", "br0", "up"})
	}
	for _, argv := range setup {
		if out, err := proc.Output(context.Background(), argv[0], argv[1:]...); err != nil {
			t.Fatalf("drbd cluster: %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}

	reqDir := t.TempDir()
	for i := range c.BMCs {
		c.BMCs[i] = ipmi.StartBMC(t, ipmi.BMCSpec{
			// Ports of their own: StartBMC refuses a port another socket
			// in the namespace has, whatever the address.
			Name: "bmc-" + []string{"a", "b"}[i], Addr: BMCIP(i), Port: BMCPort(i),
			Wrap: []string{"nsenter", "--net=/run/netns/" + c.NS, "--"},
			// The hook only records the request; the watcher acts on it.
			PowerHook: []string{"sh", "-c", `echo "$0" >> ` + harness.ShellQuote(filepath.Join(reqDir, strconv.Itoa(i)))},
		})
	}

	c.Pair = StartPair(t, PairSpec{DiskMiB: 64, MemMiB: 512, LAN: c.NS,
		LANIPs: [2]string{LANIP(0) + "/24", LANIP(1) + "/24"}, LANTap: taps, Root: spec.Root, Shared: spec.Shared})
	if spec.Client {
		c.Client = &Guest{pair: c.Pair, name: "client", ip: "192.0.2.31", mac: "52:54:00:00:02:31",
			dir: filepath.Join(c.Pair.dir, "client"), lanIP: ClientIP + "/24", lanTap: clientTap, lanMAC: lanMAC(0x31 - 0x11)}
		if err := os.MkdirAll(c.Client.dir, 0o700); err != nil {
			t.Fatalf("drbd cluster: %v", err)
		}
		if err := os.WriteFile(c.Client.Disk(), nil, 0o600); err != nil {
			t.Fatalf("drbd cluster: %v", err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("client console:\n%s", harness.Tail(c.Client.Console(), 40))
			}
			if err := c.Client.halt(false); err != nil {
				t.Errorf("drbd cluster: %v", err)
			}
		})
		if err := c.Client.boot(t.Logf); err != nil {
			t.Fatalf("drbd cluster: %v", err)
		}
	}
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

// NS is the name of the LAN namespace of this process's cluster (one per
// process): what to remove when it is interrupted.
func NS() string { return fmt.Sprintf("pldc%d", os.Getpid()%100000) }

// Errors returns what went wrong in the background (power requests).
func (c *Cluster) Errors() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

func (c *Cluster) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

// nodeUp starts the cluster stack in a guest that has just booted
// (nodeup.sh).
func (c *Cluster) nodeUp(g *Guest) error {
	var script bytes.Buffer
	err := nodeUpTemplate.Execute(&script, map[string]string{
		"Now":          strconv.FormatFloat(float64(time.Now().UnixNano())/1e9, 'f', 3, 64),
		"Authkey":      base64.StdEncoding.EncodeToString(c.authkey),
		"CorosyncConf": pcmk.CorosyncConf(ClusterName, c.spec.TokenMS, []string{"guest-a", "guest-b"}, []string{LANIP(0), LANIP(1)}),
		"CIB":          string(c.seed),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, rc, err := g.Exec(ctx, script.String())
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
func (c *Cluster) watchPower(dir string) {
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
					if err := g.halt(true); err != nil {
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

func (c *Cluster) powerOn(g *Guest, b *ipmi.BMC) {
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
	// The boot's own log line is left out: the watcher's say enough.
	if err := g.boot(func(string, ...any) {}); err != nil {
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

// Status is what crm_mon says, seen from guest i.
func (c *Cluster) Status(i int) (*pcmk.Mon, error) {
	out, err := c.crmMon(i, "crm_mon -1 --output-as=xml")
	if err != nil {
		return nil, err
	}
	return pcmk.ParseMon(out)
}

// crmMon runs a crm_mon command line in guest i.
func (c *Cluster) crmMon(i int, cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, rc, err := c.Guest(i).Exec(ctx, cmd)
	if err == nil && rc != 0 {
		err = fmt.Errorf("crm_mon exit %d: %s", rc, out)
	}
	return out, err
}

// WaitReady waits until a running guest sees both nodes online and a DC.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	_, err := c.untilSeen(timeout, func(i int) error {
		m, err := c.Status(i)
		if err != nil {
			return err
		}
		if online := m.Online(); !m.Summary.DC.Present || online != 2 {
			return fmt.Errorf("%s sees %d nodes online, DC present %v", c.Guest(i).Name(), online, m.Summary.DC.Present)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster not ready: %v", err)
	}
	return nil
}

// untilSeen asks check about every running guest, every second, until
// it holds for one (whose index it returns) or timeout passes (the
// error then has check's last word). A failed power-on ends the wait:
// there is no use waiting.
func (c *Cluster) untilSeen(timeout time.Duration, check func(i int) error) (int, error) {
	seen := -1
	err := proc.Until(timeout, time.Second, func() error {
		if errs := c.Errors(); len(errs) > 0 {
			return proc.Abort(errors.Join(errs...))
		}
		last := errors.New("no guest running")
		for i, g := range c.Guests() {
			if !g.Running() {
				continue
			}
			if last = check(i); last == nil {
				seen = i
				return nil
			}
		}
		return last
	})
	return seen, err
}
