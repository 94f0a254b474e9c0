//go:build system

// Package drbdcluster runs the DRBD cluster scenarios (tests/scenario)
// in two qemu guests running this machine's userspace: Debian 12,
// Pacemaker 2.1, drbd-utils 9.22 with the kernel's DRBD 8.4.
package drbdcluster_test

import (
	"os"
	"testing"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/scenario"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestDRBDCluster(t *testing.T) { scenario.DRBD(t, scenario.Env{Pacemaker: "2."}) }
