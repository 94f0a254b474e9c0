package exportfs

import (
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

func request(params map[string]string) *ocf.Request {
	r := &ocf.Request{Params: map[string]string{}}
	for k, v := range params {
		r.Params[k] = v
	}
	return r
}

func TestParseConfig(t *testing.T) {
	for _, tt := range []struct {
		params  map[string]string
		fsids   string // the fsids of the directories, or the refusal
		options string // ExportOptions for the first directory
	}{
		{map[string]string{"clientspec": "*", "directory": "/srv/a/", "fsid": "7"}, "7", "fsid=7"},
		{map[string]string{"clientspec": "*", "directory": "/srv/a /srv/b", "fsid": "10", "options": "rw,sync"}, "10 11", "rw,sync,fsid=10"},
		{map[string]string{"clientspec": "*", "directory": "/srv/a", "fsid": "9", "options": "rw,fsid=3,sync"}, "9", "rw,fsid=9,sync"},
		// 4.16: without fsid, the one in options.
		{map[string]string{"clientspec": "*", "directory": "/srv/a", "options": "fsid=5,rw"}, "5", "fsid=5,rw"},
		{map[string]string{"clientspec": "*", "directory": "/srv/a", "options": "rw"}, "", "rw"},
		{map[string]string{"clientspec": "*", "directory": "/srv/a", "fsid": "4f838db1-4f83-8db1-4f83-8db14f838db1"},
			"4f838db1-4f83-8db1-4f83-8db14f838db1", "fsid=4f838db1-4f83-8db1-4f83-8db14f838db1"},
		{map[string]string{"clientspec": "*", "directory": "/srv/a /srv/b", "fsid": "root"}, "refused: integer fsid", ""},
		{map[string]string{"clientspec": "*", "directory": "/srv/a", "fsid": "1,2"}, "refused: cannot contain a comma", ""},
		{map[string]string{"directory": "/srv/a", "fsid": "1"}, "refused: clientspec is required", ""},
		{map[string]string{"clientspec": "*", "fsid": "1"}, "refused: directory is required", ""},
	} {
		c, err := ParseConfig(request(tt.params))
		if strings.HasPrefix(tt.fsids, "refused: ") {
			if err == nil || ocf.CodeOf(err) != ocf.ErrConfigured || !strings.Contains(err.Error(), strings.TrimPrefix(tt.fsids, "refused: ")) {
				t.Errorf("%v: error %v, want exit 6 with %q", tt.params, err, tt.fsids)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", tt.params, err)
			continue
		}
		if got := strings.TrimSpace(strings.Join(c.FSIDs(), " ")); got != tt.fsids {
			t.Errorf("%v: fsids %q, want %q", tt.params, got, tt.fsids)
		}
		if got := ExportOptions(c.Options, c.FSIDs()[0]); got != tt.options {
			t.Errorf("%v: options %q, want %q", tt.params, got, tt.options)
		}
	}
}

func TestClientKey(t *testing.T) {
	for spec, want := range map[string]string{"*": "*", "192.0.2.0/24": "192.0.2.0/24", "[fd00::]/64": "fd00::/64", "[fd00::5]": "fd00::5", "client.example": "client.example"} {
		if got := (&Config{Client: spec}).ClientKey(); got != want {
			t.Errorf("%s: %s, want %s", spec, got, want)
		}
	}
}

func TestParseEtab(t *testing.T) {
	etab := "/srv/nfs\t192.0.2.0/24(rw,sync,wdelay,hide,nocrossmnt,secure,no_root_squash,fsid=1,sec=sys)\n" +
		"/srv/with\\040blank\t*(ro,fsid=2)\n" +
		"/srv/v6\tfd00::/64(rw,fsid=3)\n" +
		"garbage\n"
	table := ParseEtab([]byte(etab))
	for _, tt := range []struct {
		dir, client string
		want        bool
	}{
		{"/srv/nfs", "192.0.2.0/24", true},
		{"/srv/nfs", "*", false},
		{"/srv/with blank", "*", true},
		{"/srv/v6", "fd00::/64", true},
		{"/srv/nfs/sub", "192.0.2.0/24", false},
	} {
		if got := exported(table, tt.dir, tt.client); got != tt.want {
			t.Errorf("exported(%s, %s) = %v, want %v (table %+v)", tt.dir, tt.client, got, tt.want, table)
		}
	}
	if !exported([]Export{{"/x", "<world>"}}, "/x", "*") {
		t.Error("<world> is not taken for *")
	}
}

func TestRmtab(t *testing.T) {
	rmtab := []byte("192.0.2.50:/srv/a:0x00000001\n192.0.2.51:/srv/ab:0x00000001\n192.0.2.52:/srv/a:0x00000002\n")
	if got := string(rmtabFor(rmtab, "/srv/a")); got != "192.0.2.50:/srv/a:0x00000001\n192.0.2.52:/srv/a:0x00000002\n" {
		t.Errorf("rmtabFor /srv/a: %q", got)
	}
	merged := string(mergeRmtab([]byte("b:/x:1\na:/x:1\n"), []byte("a:/x:1\nc:/y:1")))
	if merged != "a:/x:1\nb:/x:1\nc:/y:1\n" {
		t.Errorf("mergeRmtab: %q", merged)
	}
}
