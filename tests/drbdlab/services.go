package drbdlab

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

// PCS runs pcs commands against the cluster's configuration the way
// "pcs -f" does on a CIB file: the CIB is read from a running guest,
// changed here with the pcs of the guests' userspace (this machine's,
// or the root's; it knows the agents from make install), and its
// configuration section replaced in one cibadmin call. pcs in a TCG
// guest takes seconds per call; the result is the same.
func (c *Cluster) PCS(t testing.TB, via int, cmds ...[]string) {
	t.Helper()
	g := c.Guest(via)
	cib := filepath.Join(t.TempDir(), "cib.xml")
	if err := os.WriteFile(cib, []byte(g.MustExec(t, "cibadmin --query")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, argv := range cmds {
		args := append([]string{"-f", cib}, argv...)
		var out string
		var err error
		if c.spec.Root == "" {
			out, err = proc.Output(context.Background(), "pcs", args...)
		} else {
			out, err = harness.InRoot(t, c.spec.Root, 2*time.Minute, "pcs", args...)
		}
		if err != nil {
			t.Fatalf("pcs %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	conf, err := proc.Command(context.Background(), "xmllint", "--xpath", "/cib/configuration", cib).Output()
	if err != nil {
		t.Fatalf("xmllint: %v", err)
	}
	g.MustExec(t, fmt.Sprintf("cat > /run/pl-config.xml <<'PACELINE_EOF'\n%s\nPACELINE_EOF\ncibadmin --replace --scope configuration --xml-file /run/pl-config.xml", conf))
}

// Fencing returns the pcs commands that create a fence device per
// guest (fence_paceline_ipmilan to its BMC), each kept off the guest it
// fences, and enable stonith.
func (c *Cluster) Fencing() [][]string {
	var cmds [][]string
	for i, n := range []string{"guest-a", "guest-b"} {
		u := c.BMCs[i].Admin()
		cmds = append(cmds,
			[]string{"stonith", "create", "fence-" + n, "fence_paceline_ipmilan", "ip=" + BMCIP(i), "ipport=" + strconv.Itoa(BMCPort(i)),
				"username=" + u.Name, "password=" + u.Password, "lanplus=1", "cipher=3", "pcmk_host_list=" + n},
			[]string{"constraint", "location", "fence-" + n, "avoids", n})
	}
	return append(cmds, []string{"property", "set", "stonith-enabled=true"})
}

// Log returns guest i's pacemaker log ("" when the guest is down: its
// logs are on its tmpfs and go with it, as with a crash).
func (c *Cluster) Log(i int) string {
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
func (c *Cluster) Role(i int, res string) (string, error) {
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
func (c *Cluster) Timeline(since time.Time) []pcmk.TimelineEntry {
	var logs []pcmk.NodeLog
	var power []pcmk.Power
	for i, g := range c.Guests() {
		logs = append(logs, pcmk.NodeLog{Node: g.Name(), Events: pcmk.ParseLog(strings.NewReader(c.Log(i)), pcmk.TimelineLines, time.Now())})
		for _, e := range c.BMCs[i].PowerEvents() {
			power = append(power, pcmk.Power{Node: g.Name(), At: e.At, On: e.On})
		}
	}
	return pcmk.Timeline(since, logs, power)
}

// Resources lists the resource instances crm_mon shows from guest i
// (clone instances and group members included).
func (c *Cluster) Resources(i int) ([]pcmk.Resource, error) {
	out, err := c.crmMon(i, "crm_mon -1 -r --output-as=xml")
	if err != nil {
		return nil, err
	}
	return pcmk.ParseResources(out), nil
}

// Where returns the nodes where resource id has role ("Started",
// "Promoted", "Unpromoted"), as guest i sees it.
func (c *Cluster) Where(i int, id, role string) ([]string, error) {
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
func (c *Cluster) GuestIndex(name string) int {
	for i, g := range c.Guests() {
		if g.Name() == name {
			return i
		}
	}
	return -1
}

// ServicesResource is the DRBD resource of the services: fencing
// resource-only with Pacemaker's handlers, as the guides configure it,
// so that a disconnected primary forbids promoting its stale peer until
// the peer has resynced.
func ServicesResource(twoPrimaries bool) Resource {
	return Resource{Name: "r0", TwoPrimaries: twoPrimaries, Disk: "fencing resource-only;",
		Handlers: `fence-peer "/usr/lib/drbd/crm-fence-peer.sh"; after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";`}
}

// Res is the cluster's DRBD resource r0: ServicesResource, without the
// fence-peer handlers when the spec says they cannot work.
func (c *Cluster) Res(twoPrimaries bool) Resource {
	r := ServicesResource(twoPrimaries)
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
		{"resource", "create", "vip", "ocf:paceline:IPaddr2", "ip=" + VIP, "cidr_netmask=24", "nic=eth1", "--group", "svc"},
		{"constraint", "colocation", "add", "svc", "with", "Promoted", "drbd_r0-clone", "INFINITY"},
		{"constraint", "order", "promote", "drbd_r0-clone", "then", "start", "svc"},
	}
}

// SetupServices prepares r0 (metadata, initial sync skipped, an ext4
// filesystem, then down: Pacemaker brings it up), configures fencing and
// the services with pcs, and waits until the group runs on the promoted
// node, whose index it returns.
func (c *Cluster) SetupServices(t testing.TB) int {
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
func (c *Cluster) WaitServices(t testing.TB, want int, timeout time.Duration) int {
	t.Helper()
	var p int
	_, err := c.untilSeen(timeout, func(i int) error {
		list, err := c.Resources(i)
		if err != nil {
			return err
		}
		where := map[string]string{}
		for _, r := range list {
			if r.Node != "" && (r.Role == "Promoted" || r.Role == "Started") {
				where[r.ID+"/"+r.Role] = r.Node
			}
		}
		n := where["drbd_r0/Promoted"]
		p = c.GuestIndex(n)
		if n != "" && where["fs/Started"] == n && where["vip/Started"] == n && (want < 0 || p == want) {
			return nil
		}
		return errors.New(fmt.Sprint(where))
	})
	if err != nil {
		t.Fatalf("the services did not run on a promoted node: %v", err)
	}
	return p
}

// WriteData writes a file of 4 MiB of random data on the filesystem
// mounted in guest i (/srv/data), flushes it, and returns its checksum.
func (c *Cluster) WriteData(t testing.TB, i int, name string) string {
	t.Helper()
	out := c.Guest(i).MustExec(t, fmt.Sprintf(
		"set -e; dd if=/dev/urandom of=/srv/data/%[1]s bs=1M count=4 status=none; sync; sha256sum /srv/data/%[1]s", name))
	return strings.Fields(out)[0]
}

// Checksum returns the checksum of a file on guest i's filesystem, or
// what went wrong.
func (c *Cluster) Checksum(t testing.TB, i int, name string) string {
	t.Helper()
	out, rc := c.Guest(i).Run(t, 60*time.Second, "sha256sum /srv/data/"+name+" 2>&1")
	if f := strings.Fields(out); rc == 0 && len(f) > 0 {
		return f[0]
	}
	return strings.TrimSpace(out)
}

// WaitSynced waits until r0 is connected and UpToDate on both guests.
func (c *Cluster) WaitSynced(t testing.TB, timeout time.Duration) {
	t.Helper()
	err := proc.Until(timeout, time.Second, func() error {
		var states []string
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
		if !ok {
			return errors.New(strings.Join(states, "; "))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("r0 not connected and UpToDate on both guests: %v", err)
	}
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
func (c *Cluster) CrashPrimary(t testing.TB, primary int, file string) Crash {
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
func (c *Cluster) Count(t testing.TB, i int, text string) int {
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
func (c *Cluster) CountResult(t testing.TB, i int, op, rsc string) int {
	t.Helper()
	out, rc := c.Guest(i).Run(t, time.Minute, fmt.Sprintf("grep -c -i -F -e 'Result of %s operation for %s on %s: ok' /var/log/pacemaker/pacemaker.log",
		op, rsc, c.Guest(i).Name()))
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if rc > 1 || err != nil {
		t.Fatalf("%s: counting the results of %s %s: exit %d: %s", c.Guest(i).Name(), op, rsc, rc, out)
	}
	return n
}

// VIPAnswerer returns the guest whose eth1 answers ARP for VIP on the
// cluster's network, asked from this machine's side of the bridge;
// pcmk.Nobody, with an error, when none does.
func (c *Cluster) VIPAnswerer() (int, error) {
	out, err := proc.Output(context.Background(), "ip", "netns", "exec", c.NS, "arping", "-c", "1", "-w", "3", "-I", "br0", VIP)
	return pcmk.Answerer(VIP, out, err, map[string]int{lanMAC(0): 0, lanMAC(1): 1})
}

//go:embed nfsserver.sh
var nfsServerScript string

// StartNFSServer starts the kernel's NFS server in guest g as a node
// without systemd does (nfsserver.sh), with an empty export table, and
// returns what it reports (threads, versions).
func (g *Guest) StartNFSServer(t testing.TB) string {
	t.Helper()
	return strings.TrimSpace(g.MustExec(t, nfsServerScript))
}
