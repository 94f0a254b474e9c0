package filesystem

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/paceline-ha/paceline/pkg/mountinfo"
)

// fakeProc builds a synthetic /proc with the entries FindHolders reads.
type fakeProc struct {
	t    *testing.T
	root string
}

func (p fakeProc) proc(pid, comm, ns, cwd, root, exe string, fds map[string]int, maps string) {
	dir := filepath.Join(p.root, pid)
	for _, d := range []string{"fdinfo", "ns"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			p.t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			p.t.Fatal(err)
		}
	}
	link(ns, "ns/mnt")
	link(cwd, "cwd")
	link(root, "root")
	link(exe, "exe")
	for fd, mnt := range fds {
		info := "pos:\t0\nflags:\t02\nmnt_id:\t" + strconv.Itoa(mnt) + "\nino:\t12\n"
		if err := os.WriteFile(filepath.Join(dir, "fdinfo", fd), []byte(info), 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(dir, "maps"), []byte(maps), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
}

// loadMounts reads the mount table captured with two loop mounts: 69 is
// ext4 on "/tmp/mi/m a", 70 its /sub bound on /tmp/mi/bind.
func loadMounts(t *testing.T) []mountinfo.Mount {
	t.Helper()
	b, err := os.ReadFile("../../pkg/mountinfo/testdata/mountinfo-loops")
	if err != nil {
		t.Fatal(err)
	}
	return mountinfo.Parse(b)
}

func TestFindHolders(t *testing.T) {
	mounts := loadMounts(t) // 69: ext4 on "/tmp/mi/m a", 70: its /sub bound on /tmp/mi/bind
	p := fakeProc{t: t, root: t.TempDir()}
	const ns, otherNS = "mnt:[4026531841]", "mnt:[4026532999]"
	lib := "7f00-7f10 r-xp 00000000 07:00 12 /tmp/mi/m a/lib/x.so\n"
	rootMaps := "55-56 r-xp 00000000 fe:00 1 /usr/bin/bash\n"
	p.proc("1", "init", ns, "/tmp/mi/m a", "/", "/sbin/init", nil, "")                 // never
	p.proc("100", "fd", ns, "/", "/", "/usr/bin/x", map[string]int{"3": 69}, rootMaps) // open file
	p.proc("101", "cwd", ns, "/tmp/mi/m a/dir", "/", "/usr/bin/x", nil, rootMaps)      // cwd
	p.proc("102", "bindcwd", ns, "/tmp/mi/bind/d", "/", "/usr/bin/x", nil, "")         // on the bind mount
	p.proc("103", "mmap", ns, "/", "/", "/usr/bin/x", map[string]int{"0": 22}, lib)    // mapped library
	p.proc("104", "bystander", ns, "/home", "/", "/usr/bin/bash", map[string]int{"1": 46}, rootMaps)
	p.proc("105", "container", otherNS, "/tmp/mi/m a", "/", "/tmp/mi/m a/bin", nil, lib) // other ns: paths mean nothing
	p.proc("106", "containerfd", otherNS, "/", "/", "/x", map[string]int{"7": 69}, "")
	p.proc("107", "deleted", ns, "/tmp/mi/m a/gone (deleted)", "/", "/usr/bin/x", nil, "")
	p.proc("108", "self", ns, "/tmp/mi/m a", "/", "/x", nil, "")
	pids := func(hs []Holder) map[int]string {
		m := map[int]string{}
		for _, h := range hs {
			m[h.PID] = h.Why
		}
		return m
	}
	skip := map[int]bool{108: true}
	got := pids(FindHolders(p.root, Scope{Mounts: mounts, IDs: map[int]bool{69: true}, NS: ns, Skip: skip}))
	want := map[int]string{100: "fd 3", 101: "cwd", 103: "mmap", 106: "fd 7", 107: "cwd"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("holders of mount 69 = %v, want %v", got, want)
	}
	// The bind mount of /sub: only what is on that mount, not the whole
	// device and never the bystander on / (resource-agents #1304).
	got = pids(FindHolders(p.root, Scope{Mounts: mounts, IDs: map[int]bool{70: true}, NS: ns, Skip: skip}))
	want = map[int]string{102: "cwd"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("holders of bind mount 70 = %v, want %v", got, want)
	}
	hs := FindHolders(p.root, Scope{Mounts: mounts, IDs: map[int]bool{70: true}, NS: ns})
	if len(hs) != 1 || hs[0].Comm != "bindcwd" {
		t.Errorf("holder comm = %+v, want bindcwd", hs)
	}
}
