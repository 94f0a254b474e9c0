//go:build system

// Package pacemaker3 proves paceline on Pacemaker 3: the cluster
// scenarios (tests/scenario) with the nodes running a Debian 13 userspace
// (tests/trixie-root.sh: Pacemaker 3.0, Corosync 3.1.9, pcs 0.12, crmsh
// 5.0, resource-agents and fence-agents 4.16), paceline installed into
// it with make install DESTDIR=; and what Pacemaker 3 checks of an
// agent: its metadata against resource-agents 4.16's schema and pcs
// 0.12's, every parameter of the 4.16 stock agents accepted.
package pacemaker3

import (
	"os"
	"testing"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/nscluster"
	"github.com/paceline-ha/paceline/tests/scenario"
)

func TestMain(m *testing.M) { os.Exit(nscluster.Main(m)) }

func trixie(t *testing.T) scenario.Env {
	return scenario.Env{Root: harness.TrixieRoot(t), Pacemaker: "3."}
}

func TestFailover(t *testing.T)      { scenario.Failover(t, trixie(t)) }
func TestLiveMigration(t *testing.T) { scenario.LiveMigration(t, trixie(t)) }
func TestFailedStop(t *testing.T)    { scenario.FailedStop(t, trixie(t)) }
func TestLiveSwitch(t *testing.T)    { scenario.LiveSwitch(t, trixie(t)) }

// TestDRBDCluster runs the DRBD scenarios (promote, demote and notify of
// ocf:paceline:drbd through a switchover, a crash, a cut link and
// dual-primary) with the guests running the Debian 13 userspace.
func TestDRBDCluster(t *testing.T) {
	env := trixie(t)
	env.NoFencePeer = "drbd-utils 9.22's crm-fence-peer.sh (Debian 13) reads node_state's in_ccm and crmd " +
		"as \"true\"/\"online\", which Pacemaker 2.1.7 and later write as timestamps: it takes a live peer " +
		"for an unknown one and waits out its timeout, and DRBD's promote with it (fixed upstream in drbd-utils 9.28 and 9.30)"
	scenario.DRBD(t, env)
}
