package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TrixieRoot returns the Debian 13 (trixie) userspace of the Pacemaker 3
// tiers, with paceline installed in it: make trixie builds it with
// tests/trixie-root.sh (cached under CacheRoot()), installs paceline
// into it with make install DESTDIR=, and make system hands its path to
// the tests in PACELINE_TRIXIE_ROOT. Without it the test skips, or fails
// under CI.
func TrixieRoot(t testing.TB) string {
	t.Helper()
	RequireRoot(t)
	root := os.Getenv("PACELINE_TRIXIE_ROOT")
	Require(t, root != "", "PACELINE_TRIXIE_ROOT is not set (make trixie builds the Debian 13 root; make system sets it)")
	_, err := os.Stat(filepath.Join(root, ".complete"))
	Require(t, err == nil, "%s is not a complete Debian 13 root (make trixie): %v", root, err)
	err = CheckInstalledAt(root, os.Getenv("PACELINE_BIN"))
	Require(t, err == nil, "%v", err)
	return root
}

// RootPackages returns the versions of the packages installed in a root
// made by tests/trixie-root.sh, by package name.
func RootPackages(root string) map[string]string {
	data, _ := os.ReadFile(filepath.Join(root, ".packages"))
	pkgs := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if name, ver, ok := strings.Cut(line, " "); ok && ver != "" {
			pkgs[name] = ver
		}
	}
	return pkgs
}
