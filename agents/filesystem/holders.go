package filesystem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// Holder is a process that keeps a mount busy.
type Holder struct {
	PID  int
	Comm string
	Why  string // "cwd", "root", "exe", "fd 3", "mmap"
}

// Scope is what the scan looks for.
type Scope struct {
	Target *mountinfo.Mount                // the mount to free, as this namespace sees it
	IDs    map[int]bool                    // its mount ID (more are added for other namespaces)
	NS     string                          // this process's mount namespace (readlink of ns/mnt)
	Skip   map[int]bool                    // pids never to report (1, this process)
	Mounts func(pid int) []mountinfo.Mount // the mount table of pid's namespace
	// MountOf returns the ID of the mount a /proc magic link (cwd, exe, a
	// map_files entry) points into. The real one opens the link with
	// O_PATH, which touches nothing in the filesystem, and reads the mount
	// ID the kernel gives for that descriptor.
	MountOf func(link string) (int, bool)

	copies map[string]bool // namespaces whose copies of Target were added
}

// FindHolders scans proc (normally /proc) for processes that hold the
// target mount. It never touches the mounted filesystem, so a hung NFS or
// FUSE server cannot block it, and it matches mounts, not devices:
//
//   - open files by the mount ID the kernel gives in fdinfo;
//   - the working directory, root, executable and memory-mapped files by
//     the mount ID of their /proc link (opened with O_PATH), so a shell
//     that entered the directory before the filesystem was mounted on it
//     is not taken for a holder;
//   - processes in other mount namespaces (containers, services with a
//     private /tmp) hold copies of the mount with IDs of their own: the
//     copies (same device, root and mount point) are added per namespace.
//
// Matching mounts, not devices, keeps a bind mount of / from naming every
// process on the system (resource-agents issue #1304). Unreadable entries
// (processes that exit meanwhile) are skipped.
func FindHolders(proc string, s Scope) []Holder {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	if s.copies == nil {
		s.copies = map[string]bool{s.NS: true}
	}
	var out []Holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || s.Skip[pid] {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		s.addCopies(dir, pid)
		if why := s.holds(dir); why != "" {
			out = append(out, Holder{PID: pid, Comm: comm(dir), Why: why})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// addCopies adds, once per mount namespace, the IDs of that namespace's
// copies of the target mount.
func (s *Scope) addCopies(dir string, pid int) {
	ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt"))
	if err != nil || s.copies[ns] || s.Target == nil || s.Mounts == nil {
		return
	}
	s.copies[ns] = true
	for _, m := range s.Mounts(pid) {
		if m.Major == s.Target.Major && m.Minor == s.Target.Minor && m.Root == s.Target.Root && m.Point == s.Target.Point {
			s.IDs[m.ID] = true
		}
	}
}

func (s *Scope) holds(dir string) string {
	if why := s.holdsFD(dir); why != "" {
		return why
	}
	for _, l := range []string{"cwd", "root", "exe"} {
		if id, ok := s.MountOf(filepath.Join(dir, l)); ok && s.IDs[id] {
			return l
		}
	}
	if s.holdsMap(dir) {
		return "mmap"
	}
	return ""
}

func (s *Scope) holdsFD(dir string) string {
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

// holdsMap looks at the memory maps whose file is on the target's device
// and checks the mount of each through its map_files link.
func (s *Scope) holdsMap(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "maps"))
	if err != nil {
		return false
	}
	defer f.Close()
	dev := fmt.Sprintf("%02x:%02x", s.Target.Major, s.Target.Minor)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[3] != dev {
			continue
		}
		if id, ok := s.MountOf(filepath.Join(dir, "map_files", fields[0])); ok && s.IDs[id] {
			return true
		}
	}
	return false
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

// linkMount is Scope.MountOf on the real /proc.
func linkMount(link string) (int, bool) {
	fd, err := unix.Open(link, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0, false
	}
	return fieldInt(b, "mnt_id:")
}

// namespaceMounts is Scope.Mounts on the real /proc.
func namespaceMounts(pid int) []mountinfo.Mount {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return nil
	}
	return mountinfo.Parse(b)
}

func comm(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
