package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Cluster is a real Corosync + Pacemaker cluster of 2 or 3 nodes on
// this machine. Node i is a process tree in network, mount, UTS and PID
// namespaces of its own: its PID 1 is the cluster helper (see
// ClusterHelperMain), which mounts the node's private state and runs
// corosync, pacemakerd and, when asked, libvirtd. Killing that PID 1 is
// a crash: the kernel ends every process of the node, and the node's
// network namespace, its cable and its addresses go with them.
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
// the cluster over: the PIDs are recorded there, checked against their
// command lines before any signal, and Down removes every process,
// namespace, loop device and mount the cluster made.
type Cluster struct {
	ClusterSpec
	Loop string `json:"loop,omitempty"` // the shared disk's loop device

	mu sync.Mutex
}

// ClusterSpec describes a cluster for UpCluster.
type ClusterSpec struct {
	Dir   string `json:"dir"`   // state; must not exist or be empty
	Tag   string `json:"tag"`   // at most 8 characters: names on this machine, cluster_name
	Nodes int    `json:"nodes"` // 2 or 3
	// TokenMS is corosync's totem token in ms (0: corosync's 3000).
	TokenMS int `json:"token_ms,omitempty"`
	// DCDeadtime is seeded into the CIB (empty: 2s; Pacemaker's 20s
	// default makes every start wait that long for a DC).
	DCDeadtime string `json:"dc_deadtime,omitempty"`
	Libvirt    bool   `json:"libvirt,omitempty"` // a libvirtd on every node
	// Root is the userspace the nodes run, a Debian root directory (see
	// TrixieRoot); empty: this machine's. Each node runs it as an
	// overlay of its own (clusterroot.go).
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
	// power hooks; it must call ClusterHelperMain first thing. Default:
	// this program.
	Helper string `json:"helper"`
	// Owner is the process that made the cluster for a test, and its
	// start time: a later test run removes a cluster whose owner died
	// without taking it down (SweepClusters). 0 for plcluster's.
	Owner      int    `json:"owner,omitempty"`
	OwnerStart string `json:"owner_start,omitempty"`
	// Cache is the test cache (CacheRoot) of the process that made the
	// cluster: the nodes' PID 1 run with an environment of their own, and
	// a node with a Root binds this directory in (the VMs' images).
	Cache string `json:"cache,omitempty"`
}

// Addresses of the cluster network.
const (
	ClusterNet      = "192.0.2"
	ClusterClientIP = ClusterNet + ".1"
	ClusterFloatIP  = ClusterNet + ".100" // for the tests' floating IP
	clusterBMCPort  = 623
)

// NodeIP is node i's address.
func NodeIP(i int) string { return fmt.Sprintf("%s.%d", ClusterNet, 10+i) }

// BMCIP is the address of node i's BMC.
func BMCIP(i int) string { return fmt.Sprintf("%s.%d", ClusterNet, 200+i) }

// NodeName is node i's host name, as corosync and Pacemaker know it.
func NodeName(i int) string { return fmt.Sprintf("node%d", i) }

// clusterPrivate are the paths of which every node has its own copy,
// under <node dir>/root; /run, /dev/shm, /proc and /sys are fresh mounts.
var clusterPrivate = []string{
	"/etc/corosync", "/etc/hosts", "/var/lib/corosync", "/var/log/corosync",
	"/var/lib/pacemaker", "/var/log/pacemaker", "/var/lib/pcsd",
}

// clusterLibvirt are the libvirt paths of a node, bind-mounted from the
// dirs prepareLibvirtState makes under <node dir>/libvirt.
var clusterLibvirt = []struct{ sub, target string }{
	{"etc", "/etc/libvirt"},
	{"lib", "/var/lib/libvirt"},
	{"log", "/var/log/libvirt"},
	{"cache", "/var/cache/libvirt"},
	{"resolv.conf", "/etc/resolv.conf"},
}

// helperArg marks the helper's command lines (ClusterHelperMain).
const helperArg = "__paceline_cluster__"

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

// UpCluster makes and starts a cluster; it returns once every node's
// PID 1 runs (WaitReady waits for quorum and a DC). On error, what was
// made is taken down again.
func UpCluster(spec ClusterSpec) (*Cluster, error) {
	c := &Cluster{ClusterSpec: spec}
	if c.Nodes < 2 || c.Nodes > 3 {
		return nil, fmt.Errorf("cluster: %d nodes; 2 or 3 are possible", c.Nodes)
	}
	if c.Tag == "" || len(c.Tag) > 8 {
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
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	if st, err := os.Lstat(c.Dir); err == nil {
		// root runs programs from here: it must be root's alone.
		sys, _ := st.Sys().(*syscall.Stat_t)
		if !st.IsDir() || sys == nil || sys.Uid != 0 || st.Mode().Perm()&0o022 != 0 {
			return nil, fmt.Errorf("cluster: %s exists and is not a directory of root's that only root may write", c.Dir)
		}
	}
	if ents, err := os.ReadDir(c.Dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("cluster: %s is not empty (a cluster is there? take it down first)", c.Dir)
	}
	if _, err := os.Stat("/run/netns/" + c.switchNS()); err == nil {
		return nil, fmt.Errorf("cluster: network namespace %s exists already", c.switchNS())
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	if c.Owner != 0 {
		c.OwnerStart = processStart(c.Owner)
	}
	c.Cache = CacheRoot()
	if err := c.up(); err != nil {
		_ = c.Down()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) up() error {
	if err := c.save(); err != nil {
		return err
	}
	if out, err := Output("corosync-keygen", "-k", filepath.Join(c.Dir, "authkey")); err != nil {
		return fmt.Errorf("corosync-keygen: %v\n%s", err, out)
	}
	if err := c.seedCIB(); err != nil {
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
		{"ip", "-n", sw, "addr", "add", ClusterClientIP + "/24", "dev", "br0"},
	}
	if c.BMC {
		for i := 1; i <= c.Nodes; i++ {
			cmds = append(cmds, []string{"ip", "-n", sw, "addr", "add", BMCIP(i) + "/24", "dev", "br0"})
		}
	}
	for _, cmd := range cmds {
		if out, err := Output(cmd[0], cmd[1:]...); err != nil {
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

// OpenCluster takes over the cluster whose state is in dir.
func OpenCluster(dir string) (*Cluster, error) {
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

// seedCIB writes the CIB every node starts with: no fencing yet, and a
// short dc-deadtime.
func (c *Cluster) seedCIB() error {
	return writeSeedCIB(filepath.Join(c.Dir, "seed.xml"), c.DCDeadtime)
}

// writeSeedCIB writes an empty CIB with stonith disabled (the
// configuration enables it with the fence devices) and dc-deadtime set,
// so that a new cluster elects its DC in seconds, not 20.
func writeSeedCIB(seed, dcDeadtime string) error {
	out, err := exec.Command("cibadmin", "--empty").Output()
	if err != nil {
		return fmt.Errorf("cibadmin --empty: %v", err)
	}
	if err := os.WriteFile(seed, out, 0o600); err != nil {
		return err
	}
	for _, nv := range [][2]string{{"stonith-enabled", "false"}, {"dc-deadtime", dcDeadtime}} {
		cmd := exec.Command("crm_attribute", "--type", "crm_config", "--name", nv[0], "--update", nv[1])
		cmd.Env = append(os.Environ(), "CIB_file="+seed)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("seed CIB %s: %v\n%s", nv[0], err, out)
		}
	}
	return nil
}

// makeShared makes the shared disk: a sparse file on a loop device with
// an ext4 filesystem labelled "shared".
func (c *Cluster) makeShared() error {
	img := filepath.Join(c.Dir, "shared.img")
	if err := os.MkdirAll(c.SharedDir(), 0o755); err != nil {
		return err
	}
	if out, err := Output("truncate", "-s", fmt.Sprintf("%dM", c.SharedMiB), img); err != nil {
		return fmt.Errorf("truncate: %v\n%s", err, out)
	}
	if out, err := Output("mkfs.ext4", "-q", "-F", "-L", "shared", img); err != nil {
		return fmt.Errorf("mkfs.ext4: %v\n%s", err, out)
	}
	out, err := Output("losetup", "-f", "--show", img)
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
	for _, p := range clusterPrivate {
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
	if err := os.WriteFile(root+"/etc/corosync/corosync.conf", []byte(c.corosyncConf()), 0o644); err != nil {
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
		if err := prepareLibvirtState(filepath.Join(c.nodeDir(i), "libvirt"), c.Root, NodeName(i), NodeIP(i)); err != nil {
			return err
		}
	}
	return nil
}

// corosyncConf renders corosync.conf: knet with encryption, votequorum
// (two_node for two nodes), logging to a file only (no syslog socket
// here), one multi-line node block per node (corosync rejects a block on
// one line).
func (c *Cluster) corosyncConf() string {
	var names, addrs []string
	for i := 1; i <= c.Nodes; i++ {
		names, addrs = append(names, NodeName(i)), append(addrs, NodeIP(i))
	}
	return corosyncConfig(c.Tag, c.TokenMS, names, addrs)
}

// corosyncConfig renders corosync.conf for the named nodes (node IDs
// from 1 in order, one knet link on addrs), two_node for two.
func corosyncConfig(cluster string, tokenMS int, names, addrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by the paceline test cluster (tests/harness)\n")
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: knet\n", cluster)
	fmt.Fprintf(&b, "\tcrypto_cipher: aes256\n\tcrypto_hash: sha256\n")
	if tokenMS > 0 {
		fmt.Fprintf(&b, "\ttoken: %d\n", tokenMS)
	}
	fmt.Fprintf(&b, "}\nquorum {\n\tprovider: corosync_votequorum\n")
	if len(names) == 2 {
		fmt.Fprintf(&b, "\ttwo_node: 1\n")
	}
	fmt.Fprintf(&b, "}\nlogging {\n\tto_logfile: yes\n\tlogfile: /var/log/corosync/corosync.log\n")
	fmt.Fprintf(&b, "\tto_syslog: no\n\tto_stderr: no\n\ttimestamp: hires\n}\nnodelist {\n")
	for i := range names {
		fmt.Fprintf(&b, "\tnode {\n\t\tnodeid: %d\n\t\tname: %s\n\t\tring0_addr: %s\n\t}\n", i+1, names[i], addrs[i])
	}
	b.WriteString("}\n")
	return b.String()
}

// startBMC starts node i's BMC: ipmi_sim in the switch namespace at
// BMCIP(i):623, user fenceadm/fencepw, its power hook the helper's
// "power" command for node i.
func (c *Cluster) startBMC(i int) error {
	b := &BMC{
		Name: NodeName(i) + "-bmc", Addr: BMCIP(i), Port: clusterBMCPort, Dir: c.bmcDir(i),
		Users:     []BMCUser{{Name: DefaultBMCUser, Password: DefaultBMCPassword, Priv: "admin"}},
		powerHook: []string{c.Helper, helperArg, "power", c.Dir, strconv.Itoa(i)},
	}
	b.state = filepath.Join(b.Dir, "power")
	b.log = filepath.Join(b.Dir, "chassis.log")
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return err
	}
	if err := b.writeFiles(); err != nil {
		return err
	}
	if err := b.writeConfig(); err != nil {
		return err
	}
	pid, err := c.daemon(filepath.Join(b.Dir, "ipmi_sim.log"), b.Dir, "nsenter", "--net=/run/netns/"+c.switchNS(),
		"ipmi_sim", "-n", "-c", filepath.Join(b.Dir, "lan.conf"), "-f", filepath.Join(b.Dir, "bmc.emu"),
		"-s", filepath.Join(b.Dir, "state"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	end := time.Now().Add(10 * time.Second)
	for {
		out, err := c.BMCTool(i, "-N", "1", "-R", "1", "chassis", "power", "status")
		if err == nil {
			return nil
		}
		if !c.bmcAlive(i) || time.Now().After(end) {
			return fmt.Errorf("ipmi_sim not answering: %v\n%s%s", err, out, readTail(filepath.Join(b.Dir, "ipmi_sim.log"), 10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BMCTool runs ipmitool against node i's BMC (lanplus, cipher suite 3,
// the admin account), from the switch namespace.
func (c *Cluster) BMCTool(i int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ipmitoolTimeout)
	defer cancel()
	argv := append([]string{"--net=/run/netns/" + c.switchNS(), "ipmitool", "-I", "lanplus", "-C", "3",
		"-H", BMCIP(i), "-p", strconv.Itoa(clusterBMCPort), "-U", DefaultBMCUser, "-E"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	cmd.Env = append(os.Environ(), "IPMI_PASSWORD="+DefaultBMCPassword)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// BMCPowerEvents returns node i's BMC's chassis-control log.
func (c *Cluster) BMCPowerEvents(i int) string {
	data, _ := os.ReadFile(filepath.Join(c.bmcDir(i), "chassis.log"))
	return string(data)
}

// FenceParams are the fence_ipmilan parameters that reach node i's BMC.
func (c *Cluster) FenceParams(i int) []string {
	return []string{"ip=" + BMCIP(i), "ipport=" + strconv.Itoa(clusterBMCPort),
		"username=" + DefaultBMCUser, "password=" + DefaultBMCPassword, "lanplus=1", "cipher=3",
		"pcmk_host_list=" + NodeName(i)}
}

// daemon starts argv in a session of its own, detached (stdin
// /dev/null, output appended to logPath), and returns its PID. The
// process is reaped by this program while it lives, by the system after.
func (c *Cluster) daemon(logPath, dir string, argv ...string) (int, error) {
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}

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
	out, err := os.OpenFile(filepath.Join(d, "init.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(c.Helper, helperArg, "node", c.Dir, strconv.Itoa(i))
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, "/"
	// TZ: the harness reads the nodes' log times as UTC.
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/root", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("boot %s: %v", NodeName(i), err)
	}
	go func() { _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := os.WriteFile(filepath.Join(d, "pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return err
	}
	sw, cable, ns := c.switchNS(), c.cable(i), strconv.Itoa(pid)
	_, _ = Output("ip", "-n", sw, "link", "del", cable) // a dead node's cable, if any
	for _, argv := range [][]string{
		{"ip", "-n", sw, "link", "add", cable, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "-n", sw, "link", "set", cable, "master", "br0", "up"},
		{"nsenter", "-t", ns, "-n", "ip", "addr", "add", NodeIP(i) + "/24", "dev", "eth0"},
		{"nsenter", "-t", ns, "-n", "ip", "link", "set", "eth0", "up"},
	} {
		if o, err := Output(argv[0], argv[1:]...); err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("boot %s: %s: %v\n%s", NodeName(i), strings.Join(argv, " "), err, o)
		}
	}
	return nil
}

// lockNode takes node i's boot lock (a flock: between processes too,
// the BMC hooks and plcluster).
func (c *Cluster) lockNode(i int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.Dir, NodeName(i)+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// pidOf returns node i's PID 1 (as this machine sees it) when it runs.
func (c *Cluster) pidOf(i int) int {
	pid := c.recordedPID(filepath.Join(c.nodeDir(i), "pid"))
	if pid > 0 && !argvIs(pid, c.Helper, helperArg, "node", c.Dir, strconv.Itoa(i)) {
		return 0
	}
	return pid
}

// argvIs reports whether pid's command line is exactly argv.
func argvIs(pid int, argv ...string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && string(data) == strings.Join(argv, "\x00")+"\x00"
}

// processStart is pid's start time (in clock ticks since boot), which
// tells a process from a later one with the same PID; "" when pid is
// gone.
func processStart(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// recordedPID returns the PID in file when that process is alive (not a
// zombie) and its command line holds every one of marks.
func (c *Cluster) recordedPID(file string, marks ...string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 || !processAlive(pid) {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0
	}
	args := strings.Split(string(cmdline), "\x00")
	for _, m := range marks {
		found := false
		for _, a := range args {
			if a == m {
				found = true
				break
			}
		}
		if !found {
			return 0
		}
	}
	return pid
}

// helpers returns the PIDs of this cluster's helper processes running
// command cmd.
func (c *Cluster) helpers(cmd string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !processAlive(pid) {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		a := strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
		if len(a) >= 4 && a[0] == c.Helper && a[1] == helperArg && a[2] == cmd && a[3] == c.Dir {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (c *Cluster) bmcPID(i int) int {
	return c.recordedPID(filepath.Join(c.bmcDir(i), "pid"), "ipmi_sim", filepath.Join(c.bmcDir(i), "lan.conf"))
}

func (c *Cluster) bmcAlive(i int) bool { return c.bmcPID(i) > 0 }

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
	if !waitGone([]int{pid}, 10*time.Second) {
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
	if waitGone([]int{pid}, timeout) {
		return nil
	}
	_ = c.Kill(i)
	return fmt.Errorf("%s did not stop within %v; killed", NodeName(i), timeout)
}

// Cut unplugs node i's cable (its bridge port goes down); Heal plugs it in.
func (c *Cluster) Cut(i int) error  { return c.setCable(i, "down") }
func (c *Cluster) Heal(i int) error { return c.setCable(i, "up") }

func (c *Cluster) setCable(i int, state string) error {
	if out, err := Output("ip", "-n", c.switchNS(), "link", "set", c.cable(i), state); err != nil {
		return fmt.Errorf("cable of %s %s: %v\n%s", NodeName(i), state, err, out)
	}
	return nil
}

// Command returns a command that runs inside node i (its network,
// mount, UTS and PID namespaces), or an error when the node is down.
func (c *Cluster) Command(ctx context.Context, i int, name string, args ...string) (*exec.Cmd, error) {
	pid := c.pidOf(i)
	if pid == 0 {
		return nil, fmt.Errorf("%s is down", NodeName(i))
	}
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "-m", "-u", "-p", "--", name}, args...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "HOME=/root", "TERM=dumb"}
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
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + c.switchNS(), "--", name}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// crmMon is the part of crm_mon's XML the harness reads.
type crmMon struct {
	Summary struct {
		DC struct {
			Present    bool   `xml:"present,attr"`
			Name       string `xml:"name,attr"`
			WithQuorum bool   `xml:"with_quorum,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes []struct {
		Name   string `xml:"name,attr"`
		Online bool   `xml:"online,attr"`
	} `xml:"nodes>node"`
}

// monitor reads crm_mon's XML on node i.
func (c *Cluster) monitor(i int) (*crmMon, error) {
	out, err := c.Exec(i, 10*time.Second, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return nil, fmt.Errorf("%s: crm_mon: %v", NodeName(i), err)
	}
	m := &crmMon{}
	if err := xml.Unmarshal([]byte(out[max(strings.Index(out, "<"), 0):]), m); err != nil {
		return nil, fmt.Errorf("%s: crm_mon output: %v", NodeName(i), err)
	}
	return m, nil
}

// Ready reports whether every node runs and sees every node online, a
// DC and quorum.
func (c *Cluster) Ready() error {
	live := c.Live()
	if len(live) < c.Nodes {
		return fmt.Errorf("%d of %d nodes run", len(live), c.Nodes)
	}
	for _, i := range live {
		m, err := c.monitor(i)
		if err != nil {
			return err
		}
		if !m.Summary.DC.Present || !m.Summary.DC.WithQuorum {
			return fmt.Errorf("%s: no DC with quorum yet", NodeName(i))
		}
		online := 0
		for _, n := range m.Nodes {
			if n.Online {
				online++
			}
		}
		if online != len(live) {
			return fmt.Errorf("%s: %d nodes online, %d run", NodeName(i), online, len(live))
		}
	}
	return nil
}

// WaitReady waits until Ready.
func (c *Cluster) WaitReady(timeout time.Duration) error {
	end := time.Now().Add(timeout)
	for {
		err := c.Ready()
		if err == nil {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("cluster not ready after %v: %v", timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
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
		if pid := c.bmcPID(i); pid > 0 {
			if left := killPIDs([]int{pid}, 5*time.Second); len(left) > 0 {
				errs = append(errs, fmt.Sprintf("BMC %d survives SIGKILL", i))
			}
		}
		// Unplugged: a power-on waiting for its BootDelay sees it.
		_ = os.WriteFile(filepath.Join(c.bmcDir(i), "power"), []byte("0\n"), 0o600)
	}
	if left := killPIDs(append(c.helpers("poweron"), c.helpers("power")...), 5*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Sprintf("power helpers survive SIGKILL: %v", left))
	}
	// The recorded nodes, and any init of this cluster that is not
	// recorded (none should be).
	if left := killPIDs(c.helpers("node"), 30*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Sprintf("nodes survive SIGKILL: %v", left))
	}
	if c.Libvirt {
		for i := 1; i <= c.Nodes; i++ {
			_ = saveCapabilitiesFrom(c.Root, filepath.Join(c.nodeDir(i), "libvirt", "cache", "qemu", "capabilities"))
		}
	}
	if _, err := os.Stat("/run/netns/" + c.switchNS()); err == nil {
		if out, err := Output("ip", "netns", "del", c.switchNS()); err != nil {
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
			if out, err := Output("losetup", "-d", c.Loop); err != nil && !strings.Contains(out, "No such device") {
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
	if Mounted(c.SharedDir()) {
		_, _ = Output("umount", "-l", c.SharedDir())
	}
	return os.RemoveAll(c.Dir)
}

// SweepClusters removes the clusters under parent (plc-* dirs) whose
// owner process is gone: a test binary that was killed (a timeout, a
// signal) before its cleanup ran.
func SweepClusters(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, "plc-*"))
	for _, d := range dirs {
		c, err := OpenCluster(d)
		if err != nil || c.Owner == 0 {
			continue
		}
		if c.Owner != os.Getpid() && processStart(c.Owner) != c.OwnerStart {
			fmt.Fprintf(os.Stderr, "removing the cluster in %s, left by process %d\n", d, c.Owner)
			_ = c.Remove()
		}
	}
}

func tailLast(ev []LogEvent, n int) []LogEvent {
	if len(ev) > n {
		return ev[len(ev)-n:]
	}
	return ev
}

// LogTail returns the end of every node's logs, for failure messages.
func (c *Cluster) LogTail(lines int) string {
	var b bytes.Buffer
	for i := 1; i <= c.Nodes; i++ {
		root := filepath.Join(c.nodeDir(i), "root")
		fmt.Fprintf(&b, "=== %s (running: %v)\n", NodeName(i), c.Alive(i))
		b.WriteString(readTail(filepath.Join(c.nodeDir(i), "init.log"), 10))
		fmt.Fprintf(&b, "--- pacemaker.log, notices and worse (last %d)\n", lines)
		for _, e := range tailLast(c.Events(i, regexp.MustCompile(`\) \t?(notice|warning|error|crit):|ERROR:|WARNING:`)), lines) {
			b.WriteString(e.Line + "\n")
		}
		b.WriteString(readTail(filepath.Join(root, "var/log/corosync/corosync.log"), 5))
	}
	for i := 1; c.BMC && i <= c.Nodes; i++ {
		fmt.Fprintf(&b, "=== BMC of %s\n%s", NodeName(i), readTail(filepath.Join(c.bmcDir(i), "chassis.log"), 10))
	}
	return b.String()
}
