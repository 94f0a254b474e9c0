package mountinfo

import (
	"os"
	"testing"
)

func loadMounts(t *testing.T, name string) []Mount {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(b)
}

func TestParse(t *testing.T) {
	ms := loadMounts(t, "mountinfo-loops")
	m := At(ms, "/tmp/mi/m a")
	if m == nil {
		t.Fatal(`At("/tmp/mi/m a") = nil: the \040 escape was not undone`)
	}
	want := Mount{ID: 69, Parent: 46, Major: 7, Minor: 0, Root: "/", Point: "/tmp/mi/m a",
		Options: "rw,relatime", FSType: "ext4", Source: "/dev/loop0", SuperOptions: "rw"}
	if *m != want {
		t.Errorf("At() = %+v, want %+v", *m, want)
	}
	bind := At(ms, "/tmp/mi/bind")
	if bind == nil || bind.Root != "/sub" || bind.Major != 7 {
		t.Errorf("bind mount = %+v, want root /sub on 7:0", bind)
	}
	tmp := At(ms, "/tmp/mi/t")
	if tmp == nil || tmp.FSType != "tmpfs" || tmp.Source != "mytmp" {
		t.Errorf("tmpfs = %+v", tmp)
	}
	empty := Parse([]byte("80 69 0:50 / /tmp/mi/m\\040a/sub rw,relatime - tmpfs  rw,size=4k\n"))
	if len(empty) != 1 || empty[0].Source != "" || empty[0].FSType != "tmpfs" || empty[0].SuperOptions != "rw,size=4k" {
		t.Errorf("a mount without source = %+v", empty)
	}
	if len(Parse([]byte("garbage\n1 2 3\n"))) != 0 {
		t.Error("malformed lines were accepted")
	}
	host := loadMounts(t, "mountinfo-host")
	if At(host, "/") == nil || At(host, "/proc") == nil {
		t.Error("host table lacks / or /proc")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`: "/a b", `/t\011ab`: "/t\tab", `/back\134slash`: `/back\slash`, `/plain`: "/plain", `/odd\04`: `/odd\04`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnderAndContaining(t *testing.T) {
	ms := []Mount{
		{ID: 1, Point: "/"}, {ID: 2, Point: "/srv"}, {ID: 3, Point: "/srv/data"},
		{ID: 4, Point: "/srv/data/a"}, {ID: 5, Point: "/srv/data/a/b"}, {ID: 6, Point: "/srv/data2"},
	}
	under := Under(ms, "/srv/data")
	if len(under) != 2 || under[0].ID != 5 || under[1].ID != 4 {
		t.Errorf("Under(/srv/data) = %v, want deepest first [5 4]", under)
	}
	for path, want := range map[string]int{
		"/srv/data/x": 3, "/srv/data": 3, "/srv/data2/y": 6, "/srv/data/a/b/c": 5, "/etc": 1, "/srv": 2,
	} {
		if got := Containing(ms, path); got == nil || got.ID != want {
			t.Errorf("Containing(%s) = %v, want mount %d", path, got, want)
		}
	}
}
