//go:build system

// Package packages installs the paceline packages that "make packages"
// builds the way administrators do, and checks that the cluster tools
// find the agents there: the deb with dpkg on this machine (then purged,
// and whatever make install had put there is put back), the rpm with rpm
// into a scratch root. What the packages must hold is derived here from
// the agent registry, independently of packaging/gen.
package packages_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/agents"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }

const (
	sbin    = "/usr/sbin"
	libexec = "/usr/libexec/paceline"
	ocfDir  = "/usr/lib/ocf/resource.d/paceline"
	docDir  = "/usr/share/doc/paceline"
)

// ownDirs are the directories that belong to paceline alone: removing the
// package must remove them.
var ownDirs = []string{ocfDir, libexec, docDir}

// entry is one file of a package: a regular file, or a link and its target.
type entry struct {
	Path, Link string
}

// expected lists the files (not directories) the packages must hold.
func expected() []entry {
	list := []entry{
		{Path: sbin + "/paceline"},
		{Path: libexec + "/paceline-libvirt"},
		{Path: libexec + "/paceline-fence"},
		{Path: docDir + "/README.md"},
		{Path: docDir + "/LICENSE"},
		{Path: docDir + "/copyright"},
	}
	for _, e := range agents.All() {
		switch e.Kind {
		case agents.OCF:
			list = append(list, entry{Path: ocfDir + "/" + e.Name, Link: sbin + "/paceline"},
				entry{Path: "/usr/share/man/man7/ocf_paceline_" + e.Name + ".7.gz"})
		case agents.Fence:
			list = append(list, entry{Path: sbin + "/" + e.Name, Link: libexec + "/paceline-fence"},
				entry{Path: "/usr/share/man/man8/" + e.Name + ".8.gz"})
		}
	}
	return sorted(list)
}

func sorted(l []entry) []entry {
	slices.SortFunc(l, func(a, b entry) int { return strings.Compare(a.Path, b.Path) })
	return l
}

// packages returns the deb and the rpm in $PACELINE_PACKAGES.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	dir := os.Getenv("PACELINE_PACKAGES")
	harness.Require(t, dir != "", "PACELINE_PACKAGES not set (make test builds the packages with make packages)")
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("%s: want one .deb and one .rpm, found %v %v", dir, debs, rpms)
	}
	return debs[0], rpms[0]
}

// debContents lists the files of a deb (dpkg-deb -c), directories apart.
func debContents(t *testing.T, deb string) (files []entry, dirs []string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(proc.Run(t, "dpkg-deb", "-c", deb)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c: unexpected line %q", l)
		}
		path := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		switch f[0][0] {
		case 'd':
			dirs = append(dirs, path)
		case 'l':
			if len(f) != 8 || f[6] != "->" {
				t.Fatalf("dpkg-deb -c: unexpected link line %q", l)
			}
			files = append(files, entry{Path: path, Link: f[7]})
		default:
			files = append(files, entry{Path: path})
		}
	}
	return sorted(files), dirs
}

// rpmContents lists the files of an rpm (rpm -qp), directories apart.
func rpmContents(t *testing.T, rpm string) (files []entry, dirs []string) {
	t.Helper()
	out := proc.Run(t, "rpm", "-qp", "--qf", `[%{FILEMODES:perms}\t%{FILENAMES}\t%{FILELINKTOS}\n]`, rpm)
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("rpm -qp: unexpected line %q", l)
		}
		switch f[0][0] {
		case 'd':
			dirs = append(dirs, f[1])
		case 'l':
			files = append(files, entry{Path: f[1], Link: f[2]})
		default:
			files = append(files, entry{Path: f[1]})
		}
	}
	return sorted(files), dirs
}

func TestPackageContents(t *testing.T) {
	for _, p := range []string{"dpkg-deb", "rpm"} {
		_, err := proc.LookPath(p)
		harness.Require(t, err == nil, "needs %s (run tests/install-deps.sh)", p)
	}
	deb, rpm := packages(t)
	want := expected()
	debFiles, debDirs := debContents(t, deb)
	rpmFiles, rpmDirs := rpmContents(t, rpm)
	if !slices.Equal(debFiles, want) {
		t.Errorf("deb files:\n%v\nwant (from the agent registry):\n%v", debFiles, want)
	}
	if !slices.Equal(rpmFiles, debFiles) {
		t.Errorf("rpm -qpl files:\n%v\ndeb files:\n%v", rpmFiles, debFiles)
	}
	for _, d := range ownDirs {
		if !slices.Contains(debDirs, d) || !slices.Contains(rpmDirs, d) {
			t.Errorf("directory %s: in deb %v, in rpm %v; both must own it", d, slices.Contains(debDirs, d), slices.Contains(rpmDirs, d))
		}
	}
	// Dependencies: libvirt and ipmitool recommended, never required.
	control := proc.Run(t, "dpkg-deb", "-f", deb, "Depends", "Recommends")
	depends := strings.SplitN(control, "Recommends", 2)[0]
	if !strings.Contains(control, "Recommends: libvirt0, ipmitool") || strings.Contains(depends, "libvirt") || strings.Contains(depends, "ipmitool") {
		t.Errorf("deb dependencies:\n%s", control)
	}
	reqs := proc.Run(t, "rpm", "-qpR", rpm)
	recs := proc.Run(t, "rpm", "-qp", "--recommends", rpm)
	if strings.Contains(reqs, "libvirt") || strings.Contains(reqs, "ipmitool") || !strings.Contains(recs, "libvirt-libs") || !strings.Contains(recs, "ipmitool") {
		t.Errorf("rpm requires:\n%s\nrecommends:\n%s", reqs, recs)
	}
}

// known reports dpkg's status of the paceline package when dpkg knows it
// in any state but purged (installed, half-installed, config-files...).
func known() (string, bool) {
	out, err := proc.Command(context.Background(), "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "paceline").Output()
	st := strings.TrimSpace(string(out))
	return st, err == nil && st != "" && st != "un" && !strings.HasPrefix(st, "pn")
}

// installedVersion is dpkg's version of the paceline package, or "".
func installedVersion() string {
	out, err := proc.Command(context.Background(), "dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", "paceline").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "installed" {
		return ""
	}
	return f[1]
}

// saved is a file make install had put where the package goes.
type saved struct {
	entry
	data []byte
	mode fs.FileMode
}

// setAside reads the files at the package's paths that exist before the
// package is installed (make install puts the same files there), so
// that they can be put back after the purge.
func setAside(t *testing.T, files []entry) []saved {
	t.Helper()
	var s []saved
	for _, f := range files {
		fi, err := os.Lstat(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		v := saved{entry: entry{Path: f.Path}, mode: fi.Mode().Perm()}
		if fi.Mode()&fs.ModeSymlink != 0 {
			v.Link, err = os.Readlink(f.Path)
		} else {
			v.data, err = os.ReadFile(f.Path)
		}
		if err != nil {
			t.Fatal(err)
		}
		s = append(s, v)
	}
	return s
}

func putBack(t *testing.T, s []saved) {
	for _, v := range s {
		if _, err := os.Lstat(v.Path); err == nil {
			continue
		}
		err := os.MkdirAll(filepath.Dir(v.Path), 0o755)
		if err == nil && v.Link != "" {
			err = os.Symlink(v.Link, v.Path)
		} else if err == nil {
			err = os.WriteFile(v.Path, v.data, v.mode)
		}
		if err == nil && v.Link == "" {
			err = os.Chmod(v.Path, v.mode) // whatever the umask
		}
		if err != nil {
			t.Errorf("put back %s: %v", v.Path, err)
		}
	}
}

func TestDeb(t *testing.T) {
	harness.RequireRoot(t, "dpkg", "dpkg-deb", "crm_resource", "stonith_admin", "pcs", "man")
	deb, _ := packages(t)
	if st, ok := known(); ok {
		t.Fatalf("dpkg knows a paceline package on this machine (status %q); this test installs and purges its own: "+
			"remove it first (dpkg --purge paceline; then make install, which the purge undoes)", st)
	}
	files, _ := debContents(t, deb)
	aside := setAside(t, files)
	t.Cleanup(func() { putBack(t, aside) }) // runs after the purge below
	t.Cleanup(func() {
		// Also after a dpkg -i that failed half-way.
		if _, ok := known(); ok {
			proc.Run(t, "dpkg", "--purge", "paceline")
		}
	})
	proc.Run(t, "dpkg", "-i", deb)

	t.Run("files", func(t *testing.T) {
		listed := strings.Split(proc.Run(t, "dpkg", "-L", "paceline"), "\n")
		for _, e := range expected() {
			if !slices.Contains(listed, e.Path) {
				t.Errorf("dpkg -L paceline lacks %s", e.Path)
			}
			if e.Link == "" {
				continue
			}
			if got, err := os.Readlink(e.Path); err != nil || got != e.Link {
				t.Errorf("%s -> %q (%v), want -> %s", e.Path, got, err, e.Link)
			}
		}
		// The binary's version is the package's (both from packaging/version.sh).
		pv := installedVersion()
		out := strings.TrimSpace(proc.Run(t, sbin+"/paceline", "version"))
		if want := "paceline " + strings.TrimSuffix(pv, "-1"); out != want {
			t.Errorf("paceline version = %q, want %q (package %s)", out, want, pv)
		}
	})

	t.Run("crm_resource", func(t *testing.T) {
		var want []string
		for _, e := range agents.All() {
			if e.Kind == agents.OCF {
				want = append(want, e.Name)
			}
		}
		got := strings.Fields(proc.Run(t, "crm_resource", "--list-agents", "ocf:paceline"))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("crm_resource --list-agents ocf:paceline = %v, want %v", got, want)
		}
		for _, name := range want {
			e, _ := agents.Lookup(name)
			out := proc.Run(t, "crm_resource", "--show-metadata", "ocf:paceline:"+name)
			if strings.TrimSpace(out) != strings.TrimSpace(string(e.Metadata())) {
				t.Errorf("crm_resource --show-metadata ocf:paceline:%s differs from metadata/%s.xml:\n%.300s", name, name, out)
			}
		}
	})

	t.Run("stonith_admin", func(t *testing.T) {
		for _, e := range agents.All() {
			if e.Kind != agents.Fence {
				continue
			}
			out := proc.Run(t, "stonith_admin", "--metadata", "--agent", e.Name)
			var doc struct {
				Name   string `xml:"name,attr"`
				Params []struct {
					Name string `xml:"name,attr"`
				} `xml:"parameters>parameter"`
			}
			if err := xml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("stonith_admin --metadata --agent %s: %v\n%.300s", e.Name, err, out)
			}
			names := make([]string, 0, len(doc.Params))
			for _, p := range doc.Params {
				names = append(names, p.Name)
			}
			if doc.Name != e.Name || !slices.Contains(names, "ip") || !slices.Contains(names, "password_script") {
				t.Errorf("stonith_admin --metadata --agent %s: name %q, parameters %v", e.Name, doc.Name, names)
			}
		}
	})

	t.Run("pcs", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want []string
		}{
			{[]string{"resource", "describe", "ocf:paceline:VirtualDomain"}, []string{"hypervisor", "migration_transport", "migrate_to"}},
			{[]string{"resource", "describe", "ocf:paceline:IPaddr2"}, []string{"cidr_netmask", "arp_count"}},
			{[]string{"resource", "describe", "ocf:paceline:Filesystem"}, []string{"directory", "force_unmount"}},
			{[]string{"resource", "describe", "ocf:paceline:drbd"}, []string{"drbd_resource", "promote"}},
			{[]string{"stonith", "describe", "fence_paceline_ipmilan"}, []string{"ipmitool_timeout", "password_script", "lanplus"}},
		} {
			out := proc.Run(t, "pcs", c.args...)
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("pcs %s: no %q in\n%.400s", strings.Join(c.args, " "), w, out)
				}
			}
		}
	})

	t.Run("man", func(t *testing.T) {
		for _, e := range agents.All() {
			section, page, want := "8", e.Name, []string{"OPTIONS", "pcs stonith create", "crm configure primitive", "ipmitool_timeout"}
			if e.Kind == agents.OCF {
				section, page = "7", "ocf_paceline_"+e.Name
				want = []string{"SUPPORTED PARAMETERS", "SUPPORTED ACTIONS", "pcs resource create", "crm configure primitive"}
				for _, p := range e.OCF().Meta.Parameters {
					want = append(want, p.Name)
				}
			}
			// LC_ALL, not LANG: a caller's LC_ALL or LC_MESSAGES would
			// override LANG (and LANGUAGE the messages' language), and
			// man would look for translated pages and word its warnings
			// in another language.
			cmd := proc.Command(context.Background(), "man", "--warnings", section, page)
			cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80", "LC_ALL=C.UTF-8", "LANGUAGE=")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Errorf("man %s %s: %v\n%s", section, page, err, stderr.String())
				continue
			}
			// man hyphenates nothing here (the pages say .nh), but it may
			// break a long name at a line end: compare without line breaks.
			text := strings.Join(strings.Fields(string(out)), " ")
			for _, w := range append(want, strings.ToUpper(page)) {
				if !strings.Contains(text, w) {
					t.Errorf("man %s %s: no %q", section, page, w)
				}
			}
		}
	})

	if t.Failed() {
		return
	}
	proc.Run(t, "dpkg", "--purge", "paceline")
	if v := installedVersion(); v != "" {
		t.Fatalf("paceline %s still installed after dpkg --purge", v)
	}
	for _, e := range expected() {
		if _, err := os.Lstat(e.Path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after dpkg --purge: %s is still there (%v)", e.Path, err)
		}
	}
	for _, d := range ownDirs {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after dpkg --purge: directory %s is still there (%v)", d, err)
		}
	}
}

func TestRPMScratchRoot(t *testing.T) {
	harness.RequireRoot(t, "rpm", "chroot")
	_, rpm := packages(t)
	if out := proc.Run(t, "rpm", "-K", rpm); !strings.HasSuffix(strings.TrimSpace(out), "digests OK") {
		t.Errorf("rpm -K: %s", out)
	}
	root := t.TempDir()
	proc.Run(t, "rpm", "--root", root, "--initdb")
	// --nodeps: the scratch root's rpm database knows no glibc.
	proc.Run(t, "rpm", "--root", root, "-i", "--nodeps", rpm)
	if out := proc.Run(t, "rpm", "--root", root, "-q", "paceline"); !strings.HasPrefix(out, "paceline-") {
		t.Errorf("rpm -q paceline = %q", out)
	}
	for _, e := range expected() {
		p := filepath.Join(root, e.Path)
		if e.Link != "" {
			if got, err := os.Readlink(p); err != nil || got != e.Link {
				t.Errorf("%s -> %q (%v), want -> %s", p, got, err, e.Link)
			}
			continue
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%v", err)
		}
	}
	// The static programs run inside the scratch root through the links.
	e, _ := agents.Lookup("IPaddr2")
	if out := proc.Run(t, "chroot", root, ocfDir+"/IPaddr2", "meta-data"); out != string(e.Metadata()) {
		t.Errorf("IPaddr2 meta-data in the scratch root differs from metadata/IPaddr2.xml:\n%.300s", out)
	}
	if out := proc.Run(t, "chroot", root, sbin+"/fence_paceline_ipmilan", "-o", "metadata"); !strings.Contains(out, `name="fence_paceline_ipmilan"`) {
		t.Errorf("fence_paceline_ipmilan -o metadata in the scratch root:\n%.300s", out)
	}
	proc.Run(t, "rpm", "--root", root, "-e", "paceline")
	for _, e := range expected() {
		if _, err := os.Lstat(filepath.Join(root, e.Path)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after rpm -e: %s is still there (%v)", e.Path, err)
		}
	}
	for _, d := range ownDirs {
		if _, err := os.Lstat(filepath.Join(root, d)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after rpm -e: directory %s is still there (%v)", d, err)
		}
	}
}
