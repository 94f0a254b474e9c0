package filesystem

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// loadMounts reads the mount table captured with two loop mounts: 69 is
// ext4 on "/tmp/mi/m a", 70 its /sub bound on /tmp/mi/bind (both 7:0).
func loadMounts(t *testing.T) []mountinfo.Mount {
	t.Helper()
	b, err := os.ReadFile("../../pkg/mountinfo/testdata/mountinfo-loops")
	if err != nil {
		t.Fatal(err)
	}
	return mountinfo.Parse(b)
}

// fakeProc builds a synthetic /proc with the entries FindHolders reads.
// Links point at paths; the fake MountOf maps a path to the mount it lies
// on in the table of the process's namespace.
type fakeProc struct {
	t    *testing.T
	root string
}

type fakePID struct {
	pid, comm, ns  string
	cwd, root, exe string
	fds            map[string]int    // fd -> mount ID
	maps           map[string]string // address range -> path (device 07:00)
}

func (p fakeProc) add(f fakePID) {
	dir := filepath.Join(p.root, f.pid)
	for _, d := range []string{"fdinfo", "ns", "map_files"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			p.t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			p.t.Fatal(err)
		}
	}
	link(f.ns, "ns/mnt")
	link(f.cwd, "cwd")
	link(f.root, "root")
	link(f.exe, "exe")
	for fd, mnt := range f.fds {
		info := "pos:\t0\nflags:\t02\nmnt_id:\t" + strconv.Itoa(mnt) + "\nino:\t12\n"
		if err := os.WriteFile(filepath.Join(dir, "fdinfo", fd), []byte(info), 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	var maps strings.Builder
	maps.WriteString("55-56 r-xp 00000000 fe:00 1 /usr/bin/bash\n")
	for rng, path := range f.maps {
		maps.WriteString(rng + " r--s 00000000 07:00 12 " + path + "\n")
		link(path, "map_files/"+rng)
	}
	_ = os.WriteFile(filepath.Join(dir, "maps"), []byte(maps.String()), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "comm"), []byte(f.comm+"\n"), 0o644)
}

func TestFindHolders(t *testing.T) {
	mounts := loadMounts(t)
	// Another namespace with its own copy of "/tmp/mi/m a" (ID 500) and of
	// / (ID 501).
	theirs := []mountinfo.Mount{
		{ID: 501, Major: 254, Minor: 0, Root: "/", Point: "/"},
		{ID: 500, Major: 7, Minor: 0, Root: "/", Point: "/tmp/mi/m a"},
	}
	p := fakeProc{t: t, root: t.TempDir()}
	const ns, otherNS = "mnt:[4026531841]", "mnt:[4026532999]"
	tableOf := map[string][]mountinfo.Mount{ns: mounts, otherNS: theirs}
	nsOf := map[int]string{}
	add := func(f fakePID) {
		p.add(f)
		pid, _ := strconv.Atoi(f.pid)
		nsOf[pid] = f.ns
	}
	// "cwd-before-mount" entered /tmp/mi/m a before the mount: its cwd is on
	// the mount below. The fake marks such paths with a "#below" suffix.
	add(fakePID{pid: "1", comm: "init", ns: ns, cwd: "/tmp/mi/m a", root: "/", exe: "/sbin/init"})
	add(fakePID{pid: "100", comm: "fd", ns: ns, cwd: "/", root: "/", exe: "/usr/bin/x", fds: map[string]int{"3": 69}})
	add(fakePID{pid: "101", comm: "cwd", ns: ns, cwd: "/tmp/mi/m a/dir", root: "/", exe: "/usr/bin/x"})
	add(fakePID{pid: "102", comm: "bindcwd", ns: ns, cwd: "/tmp/mi/bind/d", root: "/", exe: "/usr/bin/x"})
	add(fakePID{pid: "103", comm: "mmap", ns: ns, cwd: "/", root: "/", exe: "/usr/bin/x", maps: map[string]string{"7f00-7f10": "/tmp/mi/m a/lib/x.so"}})
	add(fakePID{pid: "104", comm: "bystander", ns: ns, cwd: "/home", root: "/", exe: "/usr/bin/bash", fds: map[string]int{"1": 46}})
	add(fakePID{pid: "105", comm: "container", ns: otherNS, cwd: "/tmp/mi/m a/x", root: "/", exe: "/bin/sh"})
	add(fakePID{pid: "106", comm: "containerfd", ns: otherNS, cwd: "/", root: "/", exe: "/x", fds: map[string]int{"7": 500}})
	add(fakePID{pid: "107", comm: "before", ns: ns, cwd: "/tmp/mi/m a#below", root: "/", exe: "/usr/bin/x"})
	add(fakePID{pid: "108", comm: "self", ns: ns, cwd: "/tmp/mi/m a", root: "/", exe: "/x"})

	mountOf := func(link string) (int, bool) {
		target, err := os.Readlink(link)
		if err != nil {
			return 0, false
		}
		pid, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(link, p.root+"/"), "/")[0])
		if strings.HasSuffix(target, "#below") {
			return 46, true // the mount under the directory
		}
		m := mountinfo.Containing(tableOf[nsOf[pid]], target)
		if m == nil {
			return 0, false
		}
		return m.ID, true
	}
	scope := func(target *mountinfo.Mount) Scope {
		return Scope{Target: target, IDs: map[int]bool{target.ID: true}, NS: ns, Skip: map[int]bool{108: true},
			Mounts: func(pid int) []mountinfo.Mount { return tableOf[nsOf[pid]] }, MountOf: mountOf}
	}
	pids := func(hs []Holder) map[int]string {
		m := map[int]string{}
		for _, h := range hs {
			m[h.PID] = h.Why
		}
		return m
	}
	got := pids(FindHolders(p.root, scope(mountinfo.At(mounts, "/tmp/mi/m a"))))
	want := map[int]string{100: "fd 3", 101: "cwd", 103: "mmap", 105: "cwd", 106: "fd 7"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("holders of mount 69 = %v, want %v", got, want)
	}
	// The bind mount of /sub: only what is on that mount, not the whole
	// device and never the bystander on / (resource-agents #1304).
	hs := FindHolders(p.root, scope(mountinfo.At(mounts, "/tmp/mi/bind")))
	if got := pids(hs); !reflect.DeepEqual(got, map[int]string{102: "cwd"}) {
		t.Errorf("holders of bind mount 70 = %v, want only 102", got)
	}
	if len(hs) == 1 && hs[0].Comm != "bindcwd" {
		t.Errorf("holder comm = %q, want bindcwd", hs[0].Comm)
	}
}
