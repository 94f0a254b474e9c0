//go:build system

package nfs_test

import (
	"testing"

	"github.com/paceline-ha/paceline/tests/scenario"
)

// TestNFSFailover: the NFS guide's cluster with paceline's agents, a
// crash of the server's node and a switchover, seen by an NFSv3 and an
// NFSv4.2 client that hold locks and keep writing (scenario.NFS).
func TestNFSFailover(t *testing.T) { scenario.NFS(t, scenario.Env{Pacemaker: "2."}) }
