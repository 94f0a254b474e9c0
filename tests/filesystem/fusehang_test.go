//go:build system

package filesystem_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/fusehang"
	h "github.com/paceline-ha/paceline/tests/harness"
)

// TestHungFilesystem: a FUSE filesystem served by the test stops
// answering; a depth-20 monitor reports it within its timeout instead of
// hanging with it, and stop still unmounts it.
func TestHungFilesystem(t *testing.T) {
	h.RequireRoot(t)
	_, err := os.Stat("/dev/fuse")
	h.Require(t, err == nil, "needs /dev/fuse")
	dir := filepath.Join(t.TempDir(), "mnt")
	srv, err := fusehang.Mount(dir, "plhang", "plhang")
	if err != nil {
		t.Fatalf("mount the test FUSE filesystem: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	a := newAgent(t, map[string]string{"device": "plhang", "directory": dir, "fstype": "fuse.plhang"})
	h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second), depth("20")), ocf.Success, "")

	srv.Hang()
	// Depth 0 reads only the mount table: still fine.
	h.Expect(t, a.Call(t, "monitor", h.Interval(20*time.Second)), ocf.Success, "")
	const timeout = 4 * time.Second
	res := a.Call(t, "monitor", h.Interval(20*time.Second), depth("20"), h.Timeout(timeout))
	h.Expect(t, res, ocf.ErrGeneric, "hung")
	if res.TimedOut || res.Elapsed >= timeout {
		t.Errorf("depth-20 monitor took %v (timed out: %v), want an answer within %v", res.Elapsed, res.TimedOut, timeout)
	}
	res = a.Call(t, "stop", h.Timeout(10*time.Second))
	if log, _ := os.ReadFile(a.LogFile); res.Code != ocf.Success {
		t.Logf("agent log:\n%s", log)
	}
	h.Expect(t, res, ocf.Success, "")
	if h.Mounted(dir) {
		t.Error("the hung filesystem is still mounted after stop")
	}
}
