// Package drbdlab runs real DRBD for the tests: two qemu TCG guests
// booting the Debian kernel (whose in-tree DRBD is 8.4) with an
// initramfs of tests/guestimage, DRBD between them (Pair, the drbdguest
// and drbd tiers), and the same guests as a two-node Corosync +
// Pacemaker cluster with a simulated BMC each (Cluster, the drbdcluster
// tier, the Pacemaker 3 tier's DRBD scenarios and make demo-drbd).
//
// Each guest's /init (init.sh) loads the virtio, 9p, overlay, ext4 and
// drbd modules, mounts this machine's / (or PairSpec.Root) read-only over
// virtio-9p under an overlay with a tmpfs upper layer, and switch_roots
// into it: the guests run the host's own userspace (drbd-utils,
// e2fsprogs, bash, any binary built here), see host paths at the same
// place, and never write to the host. Each has a sparse raw disk seen as
// /dev/vda and one NIC; the two NICs are joined point to point by
// -netdev dgram over unix sockets (guest-a 192.0.2.11/24, guest-b
// 192.0.2.12/24), so either guest can crash and reboot and the link
// comes back by itself. Commands run through a virtio-serial port
// ("ctl0") read by a bash agent that is the guest's PID 1 (agent.sh);
// QMP is used for link faults.
//
// The guests' DRBD configuration is the harness's own: /etc/drbd.conf
// includes drbd.d/global_common.conf (usage-count no) and drbd.d/*.res,
// and the host's *.res files are hidden.
package drbdlab

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
)

//go:embed init.sh
var guestInit []byte

//go:embed agent.sh
var guestAgent []byte

// modules are loaded in the guest, after their dependencies.
// DLM and the cluster filesystems are here too (ocfs2_stack_user by
// name: nothing depends on it, and the guest has no modprobe to load it
// later), and the NFS server and client.
var modules = []string{"virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console",
	"9pnet_virtio", "9p", "overlay", "crc32c_generic", "ext4", "drbd",
	"configfs", "dlm", "ocfs2", "ocfs2_stack_user", "gfs2",
	"nfsd", "nfsv3", "nfsv4"}

// image is the DRBD guests' kernel and initramfs.
func image(t testing.TB) guestimage.Image {
	t.Helper()
	return guestimage.Make(t, guestimage.Spec{
		Name: "drbdguest", Format: "drbd-guest-5", Modules: modules,
		Files: []guestimage.File{{Path: "init", Mode: 0o755, Data: guestInit}, {Path: "agent", Mode: 0o644, Data: guestAgent}},
	})
}

// PairSpec sizes the guests.
type PairSpec struct {
	DiskMiB int // size of each backing disk (/dev/vda); 64 when 0
	MemMiB  int // guest memory; 256 when 0 (128 boots but is tight)
	// LAN, when set, names a network namespace holding a bridge: each
	// guest then gets a second NIC (eth1, QMP name n1) on a tap device
	// there (LANTap), with the address LANIP, and its qemu runs in that
	// namespace. StartCluster uses it for the cluster's traffic and the
	// BMCs, apart from the replication link.
	LAN    string
	LANIPs [2]string // the guests' eth1 addresses with prefix, e.g. 198.51.100.11/24
	LANTap [2]string // the tap devices in LAN, made by the caller
	// Root is the userspace the guests run, a Debian root directory
	// (harness.TrixieRoot); empty: this machine's /.
	Root string
	// Shared, when set, is a raw disk image both guests have as their
	// second disk (/dev/vdb), written by both at once as a SAN LUN is
	// (qemu's share-rw): for the cluster filesystems.
	Shared string
}

// Pair is two running DRBD guests.
type Pair struct {
	A, B *Guest

	dir  string
	img  guestimage.Image
	spec PairSpec

	mu        sync.Mutex
	resources map[string]string // name -> text, rewritten into a rebooted guest
	linkDown  bool
}

// StartPair boots guest-a and guest-b in parallel and returns once both
// answer on their control channel. t.Cleanup stops both qemu processes
// and removes every file, also after a failed test (when the tail of
// both consoles is logged first). Skips without root, qemu,
// busybox-static, drbd-utils or the kernel; fails instead under CI.
func StartPair(t testing.TB, spec PairSpec) *Pair {
	t.Helper()
	harness.RequireRoot(t, "qemu-system-x86_64", "busybox")
	harness.RequireIn(t, spec.Root, "drbdadm", "drbdsetup")
	if spec.DiskMiB == 0 {
		spec.DiskMiB = 64
	}
	if spec.MemMiB == 0 {
		spec.MemMiB = 256
	}
	img := image(t)
	// Short: unix socket paths are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "pl-drbd-")
	if err != nil {
		t.Fatalf("drbd pair: %v", err)
	}
	p := &Pair{dir: dir, img: img, spec: spec, resources: map[string]string{}}
	p.A = &Guest{pair: p, name: "guest-a", ip: "192.0.2.11", mac: "52:54:00:00:02:11", dir: filepath.Join(dir, "a")}
	p.B = &Guest{pair: p, name: "guest-b", ip: "192.0.2.12", mac: "52:54:00:00:02:12", dir: filepath.Join(dir, "b")}
	p.A.peer, p.B.peer = p.B, p.A
	if spec.LAN != "" {
		for i, g := range p.Guests() {
			g.lanIP, g.lanTap, g.lanMAC = spec.LANIPs[i], spec.LANTap[i], lanMAC(i)
		}
	}
	t.Cleanup(func() { p.cleanup(t) })
	for _, g := range p.Guests() {
		if err := os.MkdirAll(g.dir, 0o700); err != nil {
			t.Fatalf("drbd pair: %v", err)
		}
		disk := filepath.Join(g.dir, "disk.img")
		if err := os.WriteFile(disk, nil, 0o600); err != nil {
			t.Fatalf("drbd pair: %v", err)
		}
		if err := os.Truncate(disk, int64(spec.DiskMiB)<<20); err != nil {
			t.Fatalf("drbd pair: %v", err)
		}
	}
	start := time.Now()
	if err := p.Parallel(func(g *Guest) error { return g.boot(t.Logf) }); err != nil {
		t.Fatalf("drbd pair: %v", err)
	}
	t.Logf("drbd pair: both guests up in %v", time.Since(start).Round(10*time.Millisecond))
	return p
}

// Guests returns A and B.
func (p *Pair) Guests() []*Guest { return []*Guest{p.A, p.B} }

// Guest returns A (0) or B (1).
func (p *Pair) Guest(i int) *Guest { return p.Guests()[i] }

func (p *Pair) cleanup(t testing.TB) {
	if t.Failed() {
		for _, g := range p.Guests() {
			t.Logf("%s console:\n%s", g.name, harness.Tail(g.Console(), 40))
		}
	}
	if err := p.Parallel(func(g *Guest) error { return g.halt(false) }); err != nil {
		t.Errorf("%v", err)
	}
	_ = os.RemoveAll(p.dir)
}

// Parallel runs fn for A and B concurrently and waits for both (fn may
// call t.Fatalf only through the returned error: it runs on other
// goroutines).
func (p *Pair) Parallel(fn func(g *Guest) error) error {
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, g := range p.Guests() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(g)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CutLink unplugs the link between the guests: QMP set_link n0 down on
// both (the guests see NO-CARRIER; packets are dropped).
func (p *Pair) CutLink(t testing.TB) {
	t.Helper()
	p.setLink(t, false)
}

// HealLink plugs the link back in.
func (p *Pair) HealLink(t testing.TB) {
	t.Helper()
	p.setLink(t, true)
}

func (p *Pair) setLink(t testing.TB, up bool) {
	t.Helper()
	p.mu.Lock()
	p.linkDown = !up
	p.mu.Unlock()
	for _, g := range p.Guests() {
		if !g.Running() {
			continue
		}
		if err := g.setLink(up); err != nil {
			t.Fatalf("link up=%v: %v", up, err)
		}
	}
}

// WriteResource writes /etc/drbd.d/<name>.res in both guests (and again
// into a guest rebooted with Start). It does not apply it: run
// "drbdadm adjust <name>" for a resource that is up.
func (p *Pair) WriteResource(t testing.TB, name, text string) {
	t.Helper()
	p.mu.Lock()
	p.resources[name] = text
	p.mu.Unlock()
	for _, g := range p.Guests() {
		if !g.Running() {
			continue
		}
		if err := g.putResource(name, text); err != nil {
			t.Fatalf("%v", err)
		}
	}
}

// putResource writes /etc/drbd.d/<name>.res in the guest.
func (g *Guest) putResource(name, text string) error {
	if strings.ContainsAny(name, "/'") || name == "" {
		return fmt.Errorf("resource name %q", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	out, rc, err := g.Exec(ctx, fmt.Sprintf("cat > '/etc/drbd.d/%s.res' <<'PACELINE_EOF'\n%sPACELINE_EOF\n", name, text))
	if err == nil && rc != 0 {
		err = fmt.Errorf("exit %d: %s", rc, out)
	}
	if err != nil {
		return fmt.Errorf("%s: write resource %s: %v", g.name, name, err)
	}
	return nil
}

// rewriteResources writes the resources of WriteResource again into a
// guest that has just booted (its /etc is a tmpfs).
func (g *Guest) rewriteResources() error {
	p := g.pair
	p.mu.Lock()
	res := make(map[string]string, len(p.resources))
	for k, v := range p.resources {
		res[k] = v
	}
	p.mu.Unlock()
	for name, text := range res {
		if err := g.putResource(name, text); err != nil {
			return err
		}
	}
	return nil
}

// UpConnected writes the resource res (rendered by Resource.Text unless
// written before), creates its metadata on both guests, brings it up,
// waits until it is Connected and skips the initial sync, so that both
// end Secondary/Secondary and UpToDate/UpToDate.
func (p *Pair) UpConnected(t testing.TB, res string) {
	t.Helper()
	p.mu.Lock()
	_, written := p.resources[res]
	p.mu.Unlock()
	if !written {
		p.WriteResource(t, res, Resource{Name: res}.Text())
	}
	err := p.Parallel(func(g *Guest) error {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, rc, err := g.Exec(ctx, fmt.Sprintf("set -e\ndrbdadm create-md --force %[1]s 2>&1 | tail -n 3\ndrbdadm up %[1]s", res))
		if err == nil && rc != 0 {
			err = fmt.Errorf("exit %d", rc)
		}
		if err != nil {
			return fmt.Errorf("%s: create-md + up %s: %v\n%s", g.name, res, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	p.A.WaitFor(t, 30*time.Second, fmt.Sprintf(`[ "$(drbdadm cstate %s)" = Connected ]`, res))
	p.A.MustExec(t, fmt.Sprintf("drbdadm -- --clear-bitmap new-current-uuid %s/0", res))
	for _, g := range p.Guests() {
		g.WaitFor(t, 30*time.Second, fmt.Sprintf(
			`[ "$(drbdadm role %[1]s)/$(drbdadm dstate %[1]s)" = Secondary/Secondary/UpToDate/UpToDate ]`, res))
	}
}

// GuestCIB is where SetupCIB puts a guest's CIB file.
const GuestCIB = "/run/cib.xml"

// SetupCIB gives the guest a CIB file of its own (GuestCIB) naming both
// guests as nodes, so that crm_attribute with CIB_file really writes
// node attributes such as promotion scores there, without a cluster, and
// creates /run/resource-agents (HA_RSCTMP). Run it again after a reboot.
func (g *Guest) SetupCIB(t testing.TB) {
	t.Helper()
	g.MustExec(t, `set -e
export CIB_file=`+GuestCIB+`
cibadmin --empty > $CIB_file
cibadmin -C -o nodes -X '<node id="1" uname="guest-a"/>'
cibadmin -C -o nodes -X '<node id="2" uname="guest-b"/>'
cibadmin -C -o status -X '<node_state id="1" uname="guest-a"/>'
cibadmin -C -o status -X '<node_state id="2" uname="guest-b"/>'
mkdir -p /run/resource-agents`)
}
