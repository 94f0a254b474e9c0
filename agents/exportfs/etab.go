package exportfs

import (
	"bufio"
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// Paths of the NFS server's tables and the kernel's interfaces; tests
// point them elsewhere.
var (
	etabPath   = "/var/lib/nfs/etab"
	rmtabPath  = "/var/lib/nfs/rmtab"
	leasePath  = "/proc/fs/nfsd/nfsv4leasetime"
	cachePath  = "/proc/net/rpc/nfsd.export/content"
	unlockPath = "/proc/fs/nfsd/unlock_filesystem"
)

// Export is one line of the export table: a directory and the client
// it is exported to.
type Export struct {
	Dir, Client string
}

// ParseEtab reads exportfs's table (/var/lib/nfs/etab): a line per
// export, "directory<TAB>client(options)", the directory with blanks and
// other special characters escaped as \ooo.
func ParseEtab(data []byte) []Export {
	var out []Export
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexAny(line, " \t")
		if i <= 0 {
			continue
		}
		client := strings.TrimSpace(line[i:])
		if j := strings.IndexByte(client, '('); j >= 0 {
			client = client[:j]
		}
		out = append(out, Export{Dir: unescape(line[:i]), Client: client})
	}
	return out
}

// unescape decodes the \ooo escapes of the NFS tables.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// exported reports whether dir is exported to client: "*" is also
// written "<world>".
func exported(table []Export, dir, client string) bool {
	for _, e := range table {
		if e.Dir == dir && (e.Client == client || (client == "*" && e.Client == "<world>")) {
			return true
		}
	}
	return false
}

// rmtabFor returns the rmtab lines of clients that mounted dir
// ("host:dir:count"), as the stock agent selects them.
func rmtabFor(rmtab []byte, dir string) []byte {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(rmtab, []byte("\n")) {
		if bytes.Contains(l, []byte(":"+dir+":")) {
			b.Write(l)
			if !bytes.HasSuffix(l, []byte("\n")) {
				b.WriteByte('\n')
			}
		}
	}
	return b.Bytes()
}

// mergeRmtab is the sorted union of the lines of a and b.
func mergeRmtab(a, b []byte) []byte {
	seen := map[string]bool{}
	var lines []string
	for _, data := range [][]byte{a, b} {
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && !seen[l] {
				seen[l] = true
				lines = append(lines, l)
			}
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return nil
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}
