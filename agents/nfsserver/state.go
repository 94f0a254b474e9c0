package nfsserver

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// Where the kernel and the daemons show their state; tests point them
// elsewhere.
var (
	procRoot    = "/proc"
	threadsFile = "/proc/fs/nfsd/threads"
	stateDir    = "/var/lib/nfs"
	mountsFile  = "/proc/self/mountinfo"
)

// Daemon names as /proc/PID/comm shows them.
const (
	rpcbind = "rpcbind"
	statd   = "rpc.statd"
	mountd  = "rpc.mountd"
	notify  = "sm-notify"
	cld     = "nfsdcld"
	idmapd  = "rpc.idmapd"
)

// Status is what monitor sees.
type Status struct {
	Threads   int // nfsd threads; -1 when the nfsd filesystem is not mounted
	Daemons   map[string][]int
	SharedOK  bool // /var/lib/nfs is the shared directory (or none is configured)
	SharedWhy string
}

// observe reads the NFS server's state without starting any program.
func observe(c *Config) Status {
	st := Status{Threads: -1, Daemons: daemons(), SharedOK: true}
	if data, err := os.ReadFile(threadsFile); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			st.Threads = n
		}
	}
	if c.InfoDir != "" {
		st.SharedOK, st.SharedWhy = sharedMounted(c.InfoDir)
	}
	return st
}

// daemons lists the PIDs of the NFS daemons by name, from /proc.
func daemons() map[string][]int {
	out := map[string][]int{}
	entries, _ := os.ReadDir(procRoot)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err != nil {
			continue
		}
		switch name := strings.TrimSpace(string(comm)); name {
		case rpcbind, statd, mountd, notify, cld, idmapd:
			out[name] = append(out[name], pid)
		}
	}
	return out
}

// sharedMounted reports whether /var/lib/nfs is a bind mount of dir,
// from the mount table alone: monitor must not touch the shared
// filesystem, which may hang when its storage does.
func sharedMounted(dir string) (bool, string) {
	data, err := os.ReadFile(mountsFile)
	if err != nil {
		return false, err.Error()
	}
	mounts := mountinfo.Parse(data)
	top := mountinfo.At(mounts, stateDir)
	if top == nil {
		return false, stateDir + " is not a mount of " + dir
	}
	under := containing(mounts, dir)
	if under == nil {
		return false, "no filesystem is mounted for " + dir
	}
	// A bind mount shows the bound directory's path within its
	// filesystem as its root: dir's own, on the same device.
	want := path.Join(under.Root, strings.TrimPrefix(dir, under.Point))
	if top.Major != under.Major || top.Minor != under.Minor || path.Clean(top.Root) != want {
		return false, stateDir + " is " + top.Source + top.Root + ", not " + dir
	}
	return true, ""
}

// containing returns the mount that path is on: the one with the
// longest mount point above it, the last mounted of those.
func containing(mounts []mountinfo.Mount, p string) *mountinfo.Mount {
	var best *mountinfo.Mount
	for i := range mounts {
		m := &mounts[i]
		if m.Point != "/" && p != m.Point && !strings.HasPrefix(p, m.Point+"/") {
			continue
		}
		if best == nil || len(m.Point) >= len(best.Point) {
			best = m
		}
	}
	return best
}
