package filesystem

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// systemdRuntime is where systemd keeps the units of this boot; it exists
// only while systemd runs the machine.
const systemdRuntime = "/run/systemd/system"

// remoteDropIn orders resource-agents-deps.target, which pacemaker.service
// starts after and so stops before, after remote-fs.target: at shutdown
// the cluster stops its network and cluster filesystems before systemd
// takes the network and remote mounts away. resource-agents 4.16 writes
// the same drop-in at the start of every such filesystem.
var remoteDropIn = struct{ dir, file, content string }{
	dir:     "resource-agents-deps.target.d",
	file:    "99-Filesystem-remote.conf",
	content: "[Unit]\nAfter=remote-fs.target\n",
}

// needsRemoteOrdering is true for the filesystems upstream writes the
// drop-in for: those that may be cloned, and local ones forced to.
func (c *Config) needsRemoteOrdering() bool {
	return clusterSafe[c.FSType] || (notClusterSafe[c.FSType] && c.ForceClones)
}

// orderAfterRemoteFS writes the drop-in under runtime (systemdRuntime)
// when it is missing or different, and then has systemd reload. Unlike
// upstream it does nothing where systemd does not run: creating
// /run/systemd/system there would make programs believe it does.
func orderAfterRemoteFS(runtime string, reload func() error) error {
	if st, err := os.Stat(runtime); err != nil || !st.IsDir() {
		return nil
	}
	dir := filepath.Join(runtime, remoteDropIn.dir)
	path := filepath.Join(dir, remoteDropIn.file)
	if cur, err := os.ReadFile(path); err == nil && bytes.Equal(cur, []byte(remoteDropIn.content)) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// World-readable: systemd reads drop-ins as any user may.
	if err := ocf.WriteFileAtomic(path, []byte(remoteDropIn.content), 0o644); err != nil {
		return err
	}
	return reload()
}

// systemdReload is systemctl daemon-reload, given a quarter of what is
// left of the start (5 s at the most): the mount comes after it.
func systemdReload(ctx context.Context) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(ctx, ocf.Share(ctx, 4, 0, 5*time.Second))
		defer cancel()
		_, err := ocf.Helper{Path: "systemctl", Args: []string{"daemon-reload"}}.Run(ctx)
		return err
	}
}
