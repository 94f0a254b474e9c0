package filesystem

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// Holder is a process that keeps a mount busy.
type Holder struct {
	PID  int
	Comm string
	Why  string // "cwd", "root", "exe", "fd 3", "mmap"
}

// Scope is what the scan looks for: the mounts to free, in the table of
// this process's mount namespace.
type Scope struct {
	Mounts []mountinfo.Mount // the whole table, to find which mount a path is on
	IDs    map[int]bool      // the mounts to free
	NS     string            // this process's mount namespace (readlink of ns/mnt)
	Skip   map[int]bool      // pids never to report (1, this process)
}

// FindHolders scans proc (normally /proc) for processes that hold one of
// the mounts in s. It never touches the mounted filesystem, so a hung NFS
// or FUSE server cannot block it:
//
//   - open files are matched by the mount ID the kernel gives in
//     fdinfo (exact, whatever namespace the process is in);
//   - the working directory, root, executable and memory-mapped files are
//     matched by their path, for processes in this mount namespace, to the
//     mount that path lies on (the deepest mount point above it).
//
// Matching mounts, not devices, keeps a bind mount of / from naming every
// process on the system (resource-agents issue #1304). Unreadable entries
// (processes that exit meanwhile, permission) are skipped.
func FindHolders(proc string, s Scope) []Holder {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	var out []Holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || s.Skip[pid] {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		if why := s.holds(dir); why != "" {
			out = append(out, Holder{PID: pid, Comm: comm(dir), Why: why})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

func (s Scope) holds(dir string) string {
	if why := s.holdsFD(dir); why != "" {
		return why
	}
	if ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err != nil || ns != s.NS {
		return ""
	}
	for _, l := range []string{"cwd", "root", "exe"} {
		if p, err := os.Readlink(filepath.Join(dir, l)); err == nil && s.onTarget(p) {
			return l
		}
	}
	if s.mapsTarget(filepath.Join(dir, "maps")) {
		return "mmap"
	}
	return ""
}

func (s Scope) holdsFD(dir string) string {
	fdinfo := filepath.Join(dir, "fdinfo")
	fds, err := os.ReadDir(fdinfo)
	if err != nil {
		return ""
	}
	for _, fd := range fds {
		b, err := os.ReadFile(filepath.Join(fdinfo, fd.Name()))
		if err != nil {
			continue
		}
		if id, ok := fieldInt(b, "mnt_id:"); ok && s.IDs[id] {
			return "fd " + fd.Name()
		}
	}
	return ""
}

func fieldInt(b []byte, key string) (int, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(b[i+len(key):], " \t")
	end := bytes.IndexAny(rest, " \t\n")
	if end < 0 {
		end = len(rest)
	}
	n, err := strconv.Atoi(string(rest[:end]))
	return n, err == nil
}

// onTarget reports whether a path (as /proc shows it) lies on one of the
// target mounts.
func (s Scope) onTarget(p string) bool {
	p = strings.TrimSuffix(p, " (deleted)")
	if !strings.HasPrefix(p, "/") {
		return false
	}
	m := mountinfo.Containing(s.Mounts, p)
	return m != nil && s.IDs[m.ID]
}

func (s Scope) mapsTarget(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// address perms offset dev inode path
		line := sc.Text()
		i := strings.Index(line, " /")
		if i < 0 {
			continue
		}
		if s.onTarget(strings.TrimSpace(line[i:])) {
			return true
		}
	}
	return false
}

func comm(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
