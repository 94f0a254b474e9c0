//go:build system

// Package cluster runs the cluster scenarios (tests/scenario) on this
// machine's userspace: Debian 12, Corosync 3.1, Pacemaker 2.1, pcs 0.11,
// resource-agents and fence-agents 4.12.
package cluster

import (
	"os"
	"testing"

	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/scenario"
)

func TestMain(m *testing.M) { os.Exit(nscluster.Main(m)) }

var here = scenario.Env{Pacemaker: "2."}

func TestFailover(t *testing.T)      { scenario.Failover(t, here) }
func TestLiveMigration(t *testing.T) { scenario.LiveMigration(t, here) }
func TestPartition(t *testing.T)     { scenario.Partition(t, here) }
func TestFailedStop(t *testing.T)    { scenario.FailedStop(t, here) }
func TestLiveSwitch(t *testing.T)    { scenario.LiveSwitch(t, here) }
