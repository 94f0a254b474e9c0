//go:build system

// Package clusterfs runs the SAN cluster of the classic guides in the
// DRBD guests (tests/scenario.ClusterFS): a disk both guests write at
// once, OCFS2 or GFS2 on it, mounted on both nodes by a cloned
// ocf:paceline:Filesystem under a cloned DLM (ocf:pacemaker:controld),
// fenced over IPMI. Debian 12's userspace: Pacemaker 2.1, dlm_controld
// 4.2, ocfs2-tools 1.8, gfs2-utils 3.5.
package clusterfs_test

import (
	"os"
	"testing"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/scenario"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

func TestOCFS2(t *testing.T) { scenario.ClusterFS(t, scenario.Env{Pacemaker: "2."}, "ocfs2") }

func TestGFS2(t *testing.T) { scenario.ClusterFS(t, scenario.Env{Pacemaker: "2."}, "gfs2") }
