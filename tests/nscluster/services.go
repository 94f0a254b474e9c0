package nscluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/ipmi"
)

// Services is what Configure sets up in a cluster with pcs, as the
// classic guides do: a fence device per node (IPMI to the node's BMC,
// kept off the node it fences), and resources; every agent is paceline's
// unless Stock.
type Services struct {
	Stock bool // ocf:heartbeat:* and fence_ipmilan instead of paceline's
	// Group makes group "svc": Filesystem "fs" (the shared disk on
	// SharedDir), VirtualDomain "vm" when GroupVM, and IPaddr2 "vip"
	// (FloatIP/24).
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
	// Guest is the VM image (guestimage.Tiny); needed with GroupVM or LiveVM.
	Guest guestimage.Image
}

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
		add("resource", "create", "vip", ocf+"IPaddr2", "ip="+FloatIP, "cidr_netmask=24",
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
		shown = strings.ReplaceAll(shown, "password="+ipmi.DefaultPassword, "password=...")
		fmt.Fprintf(log, "  # pcs %s\n", shown)
		if out, err := c.Exec(live[0], time.Minute, "pcs", args...); err != nil {
			return fmt.Errorf("pcs %s: %v\n%s", shown, err, out)
		}
	}
	return c.WaitIdle(3 * time.Minute)
}

// writeVM writes the domain XML of guest name, its serial console in
// VMSerial(name), and returns its path.
func (c *Cluster) writeVM(name string, img guestimage.Image) (string, error) {
	if img.Kernel == "" {
		return "", fmt.Errorf("configure: VM %s needs a guest image", name)
	}
	dir := filepath.Join(c.Dir, "vm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cfg := filepath.Join(dir, name+".xml")
	return cfg, os.WriteFile(cfg, []byte(img.DomainXML(guestimage.Domain{Name: name, SerialPath: c.VMSerial(name)})), 0o644)
}
