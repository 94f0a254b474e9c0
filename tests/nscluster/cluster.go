// Package nscluster is the namespace cluster: a real Corosync +
// Pacemaker cluster of 2 or 3 nodes on this machine, each node a process
// tree in namespaces of its own, with simulated BMCs that really power
// the nodes off and on, a shared disk and, when asked, a libvirtd per
// node. It serves the cluster scenarios (tests/scenario), the bench's
// failover and make demo (tests/plcluster), which all make it with Up;
// Start is Up for a test, with its cleanup.
//
// The nodes' PID 1 and the BMCs' power hooks are the program that made
// the cluster, run again with the arguments of HelperMain: every such
// program calls HelperMain first thing (test packages through Main).
package nscluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// A Cluster is a real Corosync + Pacemaker cluster of 2 or 3 nodes on
// this machine. Node i is a process tree in network, mount, UTS and PID
// namespaces of its own: its PID 1 is the cluster helper (see
// HelperMain), which mounts the node's private state and runs corosync,
// pacemakerd and, when asked, libvirtd. Killing that PID 1 is a crash:
// the kernel ends every process of the node, and the node's network
// namespace, its cable and its addresses go with them.
//
// The nodes are cabled by veth pairs to a bridge in a network namespace
// of its own (<Tag>-sw); node i is "node<i>" at 192.0.2.(10+i)/24, the
// bridge carries a client address (192.0.2.1) and, when asked, one
// simulated BMC per node (ipmi_sim at 192.0.2.(200+i), UDP port 623),
// whose power-off kills node i and whose power-on boots it again. There
// is no route out.
//
// Everything lives under Dir, whose cluster.json lets a later process
// (the helper in a BMC's power hook, or plcluster for make demo) take
// the cluster over (Open): the PIDs are recorded there, checked against
// their command lines before any signal, and Down removes every process,
// namespace, loop device and mount the cluster made.
type Cluster struct {
	Spec
	Loop string `json:"loop,omitempty"` // the shared disk's loop device

	mu sync.Mutex
}

// Spec describes a cluster for Up.
type Spec struct {
	// Dir is the cluster's state; it must not exist or be empty. Empty:
	// a new temporary directory (plc-*).
	Dir string `json:"dir"`
	// Tag, at most 8 characters, names what the cluster makes on this
	// machine and is its cluster_name. Empty: one of this process's.
	Tag   string `json:"tag"`
	Nodes int    `json:"nodes"` // 2 or 3
	// TokenMS is corosync's totem token in ms (0: corosync's 3000).
	TokenMS int `json:"token_ms,omitempty"`
	// DCDeadtime is seeded into the CIB (empty: 2s; Pacemaker's 20s
	// default makes every start wait that long for a DC).
	DCDeadtime string `json:"dc_deadtime,omitempty"`
	Libvirt    bool   `json:"libvirt,omitempty"` // a libvirtd on every node
	// Root is the userspace the nodes run, a Debian root directory (see
	// harness.TrixieRoot); empty: this machine's. Each node runs it as
	// an overlay of its own (root.go).
	Root string `json:"root,omitempty"`
	BMC  bool   `json:"bmc,omitempty"` // a simulated BMC per node
	// SharedMiB is the size of the shared disk, an ext4 filesystem
	// labelled "shared" on a loop device every node sees; 0: none.
	SharedMiB int `json:"shared_mib,omitempty"`
	// BootDelay is how long a node takes from its BMC's power-on to
	// the start of its PID 1, as a real machine spends in firmware; 0
	// boots at once, before a fence's reboot has even completed.
	BootDelay time.Duration `json:"boot_delay,omitempty"`
	// Helper is the program that runs a node's PID 1 and the BMCs'
	// power hooks; it must call HelperMain first thing. Default: this
	// program.
	Helper string `json:"helper"`
	// Owner is the process that made the cluster for a test, and its
	// start time: a later test run removes a cluster whose owner died
	// without taking it down (Sweep). 0 for plcluster's.
	Owner      int    `json:"owner,omitempty"`
	OwnerStart string `json:"owner_start,omitempty"`
	// Cache is the test cache (harness.CacheRoot) of the process that
	// made the cluster: the nodes' PID 1 run with an environment of
	// their own, and a node with a Root binds this directory in (the
	// VMs' images).
	Cache string `json:"cache,omitempty"`
}

// FailoverSpec is the cluster of the cluster scenarios and of the
// bench's failover: 3 nodes with BMCs and a shared disk, a 1 s corosync
// token (a failure is seen in about 2 s instead of 4-5), and nodes that
// spend 5 s in "firmware" after a power-on, so that a fenced node comes
// back after the recovery, as a real one does.
func FailoverSpec(libvirt bool) Spec {
	return Spec{Nodes: 3, TokenMS: 1000, BMC: true, Libvirt: libvirt, SharedMiB: 64, BootDelay: 5 * time.Second}
}

// Addresses of the cluster network.
const (
	Net      = "192.0.2"
	ClientIP = Net + ".1"
	FloatIP  = Net + ".100" // the floating IP Configure makes (vip, /24)
	bmcPort  = 623
)

// NodeIP is node i's address.
func NodeIP(i int) string { return fmt.Sprintf("%s.%d", Net, 10+i) }

// BMCIP is the address of node i's BMC.
func BMCIP(i int) string { return fmt.Sprintf("%s.%d", Net, 200+i) }

// NodeName is node i's host name, as corosync and Pacemaker know it.
func NodeName(i int) string { return fmt.Sprintf("node%d", i) }

// private are the paths of which every node has its own copy, under
// <node dir>/root; /run, /dev/shm, /proc and /sys are fresh mounts.
var private = []string{
	"/etc/corosync", "/etc/hosts", "/var/lib/corosync", "/var/log/corosync",
	"/var/lib/pacemaker", "/var/log/pacemaker", "/var/lib/pcsd",
}

func (c *Cluster) nodeDir(i int) string { return filepath.Join(c.Dir, NodeName(i)) }
func (c *Cluster) bmcDir(i int) string  { return filepath.Join(c.Dir, "bmc"+strconv.Itoa(i)) }
func (c *Cluster) switchNS() string     { return c.Tag + "-sw" }
func (c *Cluster) cable(i int) string   { return fmt.Sprintf("%s-v%d", c.Tag, i) }

// NodeLog is the path of node i's pacemaker.log, from this machine.
func (c *Cluster) NodeLog(i int) string {
	return filepath.Join(c.nodeDir(i), "root", "var", "log", "pacemaker", "pacemaker.log")
}

// SharedDir is where the tests mount the shared disk: a directory every
// node sees, each in its own mount namespace.
func (c *Cluster) SharedDir() string { return filepath.Join(c.Dir, "shared") }

// seq numbers the clusters of one process, for their default tags.
var seq int

// Up makes and starts a cluster: the one way to make one, for tests
// (through Start) and programs alike. It returns once every node's PID 1
// runs (WaitReady waits for quorum and a DC). On error, what was made is
// taken down again.
func Up(spec Spec) (*Cluster, error) {
	c := &Cluster{Spec: spec}
	if c.Nodes < 2 || c.Nodes > 3 {
		return nil, fmt.Errorf("cluster: %d nodes; 2 or 3 are possible", c.Nodes)
	}
	if c.Tag == "" {
		seq++
		c.Tag = "p" + strconv.FormatInt(int64(os.Getpid()), 36) + strconv.FormatInt(int64(seq), 36)
	}
	if len(c.Tag) > 8 {
		return nil, fmt.Errorf("cluster: tag %q: 1 to 8 characters", c.Tag)
	}
	if c.DCDeadtime == "" {
		c.DCDeadtime = "2s"
	}
	if c.Helper == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		c.Helper = exe
	}
	temp := c.Dir == ""
	if temp {
		d, err := os.MkdirTemp("", "plc-")
		if err != nil {
			return nil, err
		}
		c.Dir = d
	}
	if err := c.check(); err != nil {
		if temp {
			_ = os.Remove(c.Dir)
		}
		return nil, err
	}
	if c.Owner != 0 {
		c.OwnerStart = proc.StartTime(c.Owner)
	}
	c.Cache = harness.CacheRoot()
	if err := c.up(); err != nil {
		if derr := c.Down(); derr == nil && temp {
			_ = os.RemoveAll(c.Dir)
		}
		return nil, err
	}
	return c, nil
}

// check makes sure that Dir is free and safe for root to run programs
// from, and that no cluster of the same tag is up.
func (c *Cluster) check() error {
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = dir
	if st, err := os.Lstat(c.Dir); err == nil {
		// root runs programs from here: it must be root's alone.
		sys, _ := st.Sys().(*syscall.Stat_t)
		if !st.IsDir() || sys == nil || sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("cluster: %s exists and is not a directory of root's that only root may write", c.Dir)
		}
	}
	if ents, err := os.ReadDir(c.Dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("cluster: %s is not empty (a cluster is there? take it down first)", c.Dir)
	}
	if _, err := os.Stat("/run/netns/" + c.switchNS()); err == nil {
		return fmt.Errorf("cluster: network namespace %s exists already", c.switchNS())
	}
	return os.MkdirAll(c.Dir, 0o755)
}

func (c *Cluster) up() error {
	if err := c.save(); err != nil {
		return err
	}
	if out, err := proc.Output(context.Background(), "corosync-keygen", "-k", filepath.Join(c.Dir, "authkey")); err != nil {
		return fmt.Errorf("corosync-keygen: %v\n%s", err, out)
	}
	if err := pcmk.WriteSeedCIB(filepath.Join(c.Dir, "seed.xml"), c.DCDeadtime); err != nil {
		return err
	}
	sw := c.switchNS()
	cmds := [][]string{
		{"ip", "netns", "add", sw},
		{"ip", "-n", sw, "link", "set", "lo", "up"},
		// A fixed MAC: a bridge otherwise takes its ports' lowest one,
		// and changes it when a node dies, leaving every neighbour
		// cache pointing at a MAC nobody has (the BMCs and the client
		// would not answer until those entries expire).
		{"ip", "-n", sw, "link", "add", "br0", "address", "02:00:5e:00:02:01", "type", "bridge"},
		{"ip", "-n", sw, "link", "set", "br0", "up"},
		{"ip", "-n", sw, "addr", "add", ClientIP + "/24", "dev", "br0"},
	}
	if c.BMC {
		for i := 1; i <= c.Nodes; i++ {
			cmds = append(cmds, []string{"ip", "-n", sw, "addr", "add", BMCIP(i) + "/24", "dev", "br0"})
		}
	}
	for _, cmd := range cmds {
		if out, err := proc.Output(context.Background(), cmd[0], cmd[1:]...); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	if c.SharedMiB > 0 {
		if err := c.makeShared(); err != nil {
			return err
		}
	}
	for i := 1; i <= c.Nodes; i++ {
		if err := c.prepareNode(i); err != nil {
			return fmt.Errorf("%s: %v", NodeName(i), err)
		}
	}
	if c.BMC {
		for i := 1; i <= c.Nodes; i++ {
			if err := c.startBMC(i); err != nil {
				return fmt.Errorf("BMC of %s: %v", NodeName(i), err)
			}
		}
	}
	for i := 1; i <= c.Nodes; i++ {
		if err := c.Boot(i); err != nil {
			return err
		}
	}
	return nil
}

// Open takes over the cluster whose state is in dir.
func Open(dir string) (*Cluster, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%s/cluster.json: %v", dir, err)
	}
	if abs, err := filepath.Abs(dir); err == nil && abs != c.Dir {
		return nil, fmt.Errorf("%s/cluster.json is the cluster of %s", dir, c.Dir)
	}
	return c, nil
}

func (c *Cluster) save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, "cluster.json"), append(data, '\n'), 0o644)
}

// makeShared makes the shared disk: a sparse file on a loop device with
// an ext4 filesystem labelled "shared".
func (c *Cluster) makeShared() error {
	img := filepath.Join(c.Dir, "shared.img")
	if err := os.MkdirAll(c.SharedDir(), 0o755); err != nil {
		return err
	}
	if out, err := proc.Output(context.Background(), "truncate", "-s", fmt.Sprintf("%dM", c.SharedMiB), img); err != nil {
		return fmt.Errorf("truncate: %v\n%s", err, out)
	}
	if out, err := proc.Output(context.Background(), "mkfs.ext4", "-q", "-F", "-L", "shared", img); err != nil {
		return fmt.Errorf("mkfs.ext4: %v\n%s", err, out)
	}
	out, err := proc.Output(context.Background(), "losetup", "-f", "--show", img)
	if err != nil {
		return fmt.Errorf("losetup: %v\n%s", err, out)
	}
	c.mu.Lock()
	c.Loop = strings.TrimSpace(out)
	c.mu.Unlock()
	return c.save()
}

// prepareNode makes node i's private state: corosync.conf and authkey,
// /etc/hosts, the Pacemaker dirs (owned by hacluster) with the seeded
// CIB, and the libvirt state.
func (c *Cluster) prepareNode(i int) error {
	root := filepath.Join(c.nodeDir(i), "root")
	for _, p := range private {
		if p == "/etc/hosts" {
			continue
		}
		if err := os.MkdirAll(root+p, 0o755); err != nil {
			return err
		}
	}
	uid, gid, err := rootIDs(c.Root, "hacluster", "haclient")
	if err != nil {
		return err
	}
	if c.Root != "" {
		for _, sub := range []string{"rootfs", "upper", "work"} {
			if err := os.MkdirAll(filepath.Join(c.nodeDir(i), sub), 0o755); err != nil {
				return err
			}
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{"/var/lib/pacemaker/cib", 0o750}, {"/var/lib/pacemaker/pengine", 0o750},
		{"/var/lib/pacemaker/blackbox", 0o750}, {"/var/lib/pacemaker/cores", 0o750},
		{"/var/log/pacemaker", 0o770},
	} {
		p := root + d.path
		if err := os.MkdirAll(p, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	seed, err := os.ReadFile(filepath.Join(c.Dir, "seed.xml"))
	if err != nil {
		return err
	}
	cib := root + "/var/lib/pacemaker/cib/cib.xml"
	if err := os.WriteFile(cib, seed, 0o600); err != nil {
		return err
	}
	if err := os.Chown(cib, uid, gid); err != nil {
		return err
	}
	var names, addrs []string
	for j := 1; j <= c.Nodes; j++ {
		names, addrs = append(names, NodeName(j)), append(addrs, NodeIP(j))
	}
	conf := pcmk.CorosyncConf(c.Tag, c.TokenMS, names, addrs)
	if err := os.WriteFile(root+"/etc/corosync/corosync.conf", []byte(conf), 0o644); err != nil {
		return err
	}
	key, err := os.ReadFile(filepath.Join(c.Dir, "authkey"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(root+"/etc/corosync/authkey", key, 0o400); err != nil {
		return err
	}
	hosts := "127.0.0.1 localhost\n"
	for j := 1; j <= c.Nodes; j++ {
		hosts += NodeIP(j) + " " + NodeName(j) + "\n"
	}
	if err := os.WriteFile(root+"/etc/hosts", []byte(hosts), 0o644); err != nil {
		return err
	}
	if c.Libvirt {
		if err := libvirthost.PrepareState(filepath.Join(c.nodeDir(i), "libvirt"), c.Root, NodeName(i), NodeIP(i)); err != nil {
			return err
		}
	}
	return nil
}
