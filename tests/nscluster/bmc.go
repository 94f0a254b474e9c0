package nscluster

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/ipmi"
)

// bmc is node i's BMC: ipmi_sim in the switch namespace at BMCIP(i):623,
// the default account, its power hook the helper's "power" command for
// node i. Any process may make it from the cluster's state: its files
// and PID are under bmcDir(i).
func (c *Cluster) bmc(i int) *ipmi.BMC {
	return ipmi.NewBMC(ipmi.BMCSpec{
		Name: NodeName(i) + "-bmc", Addr: BMCIP(i), Port: bmcPort,
		PowerHook: c.helperArgv("power", strconv.Itoa(i)),
		Wrap:      []string{"nsenter", "--net=/run/netns/" + c.switchNS(), "--"},
	}, c.bmcDir(i))
}

// startBMC starts node i's BMC, detached: it outlives the program that
// made the cluster, as the nodes do.
func (c *Cluster) startBMC(i int) error {
	b := c.bmc(i)
	if err := b.Prepare(); err != nil {
		return err
	}
	if err := b.Launch(true); err != nil {
		return err
	}
	if err := b.WaitAnswering(10 * time.Second); err != nil {
		return fmt.Errorf("ipmi_sim: %v\n%s", err, harness.Tail(filepath.Join(b.Dir, "ipmi_sim.log"), 10))
	}
	return nil
}

// FenceParams are the fence_ipmilan parameters that reach node i's BMC.
func (c *Cluster) FenceParams(i int) []string {
	return []string{"ip=" + BMCIP(i), "ipport=" + strconv.Itoa(bmcPort),
		"username=" + ipmi.DefaultUser, "password=" + ipmi.DefaultPassword, "lanplus=1", "cipher=3",
		"pcmk_host_list=" + NodeName(i)}
}
