// Command bench runs the stock agents and paceline's side by side, in one
// run, in the same network namespace with the same parameters, and reports
// per call: median wall time, median CPU time, processes forked and peak
// RSS, with ratios. It writes the table to BENCHMARKS.md (make bench).
// Its cluster scenario (cluster.go) measures the failover of a real
// 3-node Pacemaker cluster running either side's agents.
//
// It needs root: it creates two network namespaces joined by a veth pair,
// re-executes itself inside one of them, and removes both at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/proc"
)

const stockDir = "/usr/lib/ocf/resource.d/heartbeat"

type options struct {
	bin   string
	out   string
	n     int // calls per cheap scenario
	slow  int // calls per start/stop scenario
	inner bool
	only  string // run only this agent's scenarios (development)
	// guestMeasure: internal, run a command that many times in a DRBD
	// guest and print what each call cost (drbd.go)
	guestMeasure int
	// clusterTrials: failovers per side of the cluster scenario (cluster.go)
	clusterTrials int
}

func main() {
	// The cluster scenario's nodes (their PID 1) and BMC power hooks are
	// this program, re-executed: they run here and exit.
	nscluster.HelperMain()
	var o options
	flag.StringVar(&o.bin, "bin", "build/paceline", "the paceline binary")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "where to write the table")
	flag.IntVar(&o.n, "n", 60, "calls per monitor and meta-data scenario")
	flag.IntVar(&o.slow, "slow", 6, "calls per start and stop scenario")
	flag.BoolVar(&o.inner, "inner", false, "internal: run inside the bench namespace")
	flag.StringVar(&o.only, "only", "", "run only this agent's scenarios (IPaddr2, Filesystem, VirtualDomain, fence, drbd, cluster; exportfs, nfsserver or nfs: the NFS guest's exportfs and nfsserver rows)")
	flag.IntVar(&o.clusterTrials, "cluster-trials", 3, "failovers per side in the cluster scenario")
	flag.IntVar(&o.guestMeasure, "guest-measure", 0, "internal: run the command after -- this many times and print its cost")
	flag.Parse()
	if o.guestMeasure > 0 {
		os.Exit(guestMeasure(o.guestMeasure, flag.Args()))
	}
	if o.inner {
		os.Exit(inner(o))
	}
	os.Exit(outer(o))
}

// outer prepares the namespaces and runs the measurement inside them.
func outer(o options) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (network namespaces)")
		return 1
	}
	progs := []string{"ip", "strace", "/usr/bin/time", "losetup", "mkfs.ext4",
		filepath.Join(stockDir, "IPaddr2"), filepath.Join(stockDir, "Filesystem"),
		filepath.Join(stockDir, "VirtualDomain"), "virsh", "libvirtd", "qemu-system-x86_64",
		stockFence, "ipmi_sim", "ipmitool", stockDRBD, "drbdadm", stockExportfs, "exportfs", "rpc.nfsd",
		stockNfsserver, "/etc/init.d/nfs-kernel-server", "rpcbind", "rpc.statd", "rpc.mountd"}
	if o.only == "" || o.only == "cluster" {
		progs = append(progs, clusterPrograms...)
	}
	for _, p := range progs {
		if _, err := proc.LookPath(p); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s is missing (run tests/install-deps.sh)\n", p)
			return 1
		}
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, b := fmt.Sprintf("plbench%d-a", os.Getpid()), fmt.Sprintf("plbench%d-b", os.Getpid())
	defer func() {
		_ = proc.Command(context.Background(), "ip", "netns", "del", a).Run()
		_ = proc.Command(context.Background(), "ip", "netns", "del", b).Run()
	}()
	steps := [][]string{
		{"netns", "add", a}, {"netns", "add", b},
		{"link", "add", "v0", "netns", a, "type", "veth", "peer", "name", "v1", "netns", b},
		{"-n", a, "link", "set", "lo", "up"}, {"-n", b, "link", "set", "lo", "up"},
		{"-n", a, "addr", "add", "192.0.2.1/24", "dev", "v0"},
		{"-n", b, "addr", "add", "192.0.2.2/24", "dev", "v1"},
		{"-n", a, "addr", "add", "fd00:db8:1::1/64", "dev", "v0", "nodad"},
		{"-n", b, "addr", "add", "fd00:db8:1::2/64", "dev", "v1", "nodad"},
		{"-n", a, "link", "set", "v0", "up"}, {"-n", b, "link", "set", "v1", "up"},
	}
	for _, s := range steps {
		if out, err := proc.Output(context.Background(), "ip", s...); err != nil {
			fmt.Fprintf(os.Stderr, "bench: ip %s: %v\n%s", strings.Join(s, " "), err, out)
			return 1
		}
	}
	// DAD without its random start delay (up to router_solicitation_delay, 1 s),
	// so that "DAD itself" is the same for every start measured.
	if out, err := proc.Output(context.Background(), "ip", "netns", "exec", a, "sysctl", "-qw",
		"net.ipv6.conf.v0.router_solicitation_delay=0"); err != nil {
		fmt.Fprintf(os.Stderr, "bench: sysctl: %v\n%s", err, out)
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// nsenter, not "ip netns exec": that also makes a mount namespace, in
	// which the libvirt hosts of the VirtualDomain scenario cannot hold
	// their own mount namespaces. No agent measured here reads /sys.
	cmd := proc.Command(context.Background(), "nsenter", "--net=/run/netns/"+a, "--", self, "-inner", "-bin", bin, "-out", o.out,
		"-n", fmt.Sprint(o.n), "-slow", fmt.Sprint(o.slow), "-only", o.only,
		"-cluster-trials", fmt.Sprint(o.clusterTrials))
	// This environment as it is, no LC_ALL=C: what the measured run
	// starts inherits it.
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if code, exited := proc.ExitCode(err); exited {
			return code
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// impl is one of the two implementations being compared: a directory
// holding an executable per agent type.
type impl struct {
	name string
	dir  string
}

// op is one agent call of a scenario.
type op struct {
	action   string
	params   map[string]string
	interval time.Duration
	depth    string
	want     ocf.Status
	before   func() error // run before each call, not measured
}

type sample struct {
	wall, cpu time.Duration
}

type measure struct {
	samples []sample
	forks   int
	execs   int
	rssKB   int64 // peak RSS of one call, measured by GNU time
}

func (m *measure) medianWall() time.Duration {
	return median(m.samples, func(s sample) time.Duration { return s.wall })
}
func (m *measure) medianCPU() time.Duration {
	return median(m.samples, func(s sample) time.Duration { return s.cpu })
}
func (m *measure) peakRSS() int64 { return m.rssKB }

func median(s []sample, f func(sample) time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	v := make([]time.Duration, len(s))
	for i := range s {
		v[i] = f(s[i])
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

type row struct {
	section  string // agent type
	scenario string
	stock    *measure
	ours     *measure
	cheap    bool // target: at least 20x less CPU than stock and no fork
	faster   bool // target: less wall time than stock
}

type bench struct {
	o      options
	tmp    string
	typ    string // the agent type being measured
	inst   string // its resource name
	impls  [2]impl
	rows   []row
	dad    []time.Duration
	floor  []time.Duration // CPU of "paceline version"
	undo   []func()        // cleanups, run in reverse at the end
	settle func()          // between two agents' cycles
	failed []string
	log    io.Writer
	mig    *migration // VirtualDomain migrate_to figures
	// fenceFig holds the fence agent's figures and the ipmitool baseline.
	fenceFig    *fenceFigures
	drbdFig     *guestFigures
	exportfsFig *guestFigures
	// nfsserverFig: the nfsserver rows, measured in the exportfs guest
	nfsserverFig *guestFigures
	clusterFig   *clusterFigures
}

func (b *bench) call(im impl, o op, wrap []string) (*ocf.CallResult, error) {
	return b.callMeta(im, o, wrap, nil, 20*time.Second)
}

// callMeta is call with meta attributes and a timeout.
func (b *bench) callMeta(im impl, o op, wrap []string, meta map[string]string, timeout time.Duration) (*ocf.CallResult, error) {
	state := filepath.Join(b.tmp, "rsctmp-"+im.name)
	_ = os.MkdirAll(state, 0o755)
	c := ocf.Call{
		Path: filepath.Join(im.dir, b.typ), Type: b.typ, Instance: b.inst, Action: o.action, Params: o.params,
		Interval: o.interval, CheckLevel: o.depth, Timeout: timeout, Wrap: wrap, Meta: meta,
		BaseEnv: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		ExtraEnv: []string{"HA_LOGFACILITY=daemon", "HA_LOGFILE=" + filepath.Join(b.tmp, "ha.log"),
			"PCMK_service=pacemaker-execd", "HA_RSCTMP=" + state},
	}
	return c.Run(context.Background())
}

// one runs one call and records it; want is the expected exit code.
func (b *bench) one(im impl, m *measure, o op) error {
	if o.before != nil {
		if err := o.before(); err != nil {
			return err
		}
	}
	res, err := b.call(im, o, nil)
	if err != nil {
		return err
	}
	if res.Code != o.want {
		return fmt.Errorf("%s %s %s %v: exit %d (%s), want %d: %s", im.name, b.typ, o.action, o.params, res.Code, res.Reason, o.want, res.Stderr)
	}
	s := sample{wall: res.Elapsed}
	if res.Usage != nil {
		s.cpu = time.Duration(res.Usage.Utime.Nano() + res.Usage.Stime.Nano())
	}
	m.samples = append(m.samples, s)
	return nil
}

// traced runs one call under strace -f and records the processes created.
func (b *bench) traced(im impl, m *measure, o op) error {
	trace := filepath.Join(b.tmp, "trace")
	_ = os.Remove(trace)
	wrap := []string{"strace", "-f", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", trace, "--"}
	if o.before != nil {
		if err := o.before(); err != nil {
			return err
		}
	}
	if _, err := b.call(im, o, wrap); err != nil {
		return err
	}
	// strace -f follows background children (send_arp, our announcer)
	// and returns when the last of them has exited.
	data, err := os.ReadFile(trace)
	if err != nil {
		return err
	}
	m.forks, m.execs = harness.ParseStrace(string(data))
	return nil
}

// peak measures the peak RSS of one call with GNU time, whose child starts
// small: a child of this process would inherit the Go runtime's
// high-water mark.
func (b *bench) peak(im impl, m *measure, o op) error {
	rss := filepath.Join(b.tmp, "rss")
	if o.before != nil {
		if err := o.before(); err != nil {
			return err
		}
	}
	if _, err := b.call(im, o, []string{"/usr/bin/time", "-f", "%M", "-o", rss, "--"}); err != nil {
		return err
	}
	kb, err := os.ReadFile(rss)
	if err != nil {
		return err
	}
	lines := strings.Fields(string(kb))
	if len(lines) == 0 {
		return fmt.Errorf("no output from /usr/bin/time")
	}
	fmt.Sscan(lines[len(lines)-1], &m.rssKB)
	return nil
}
