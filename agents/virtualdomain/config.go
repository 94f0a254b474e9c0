package virtualdomain

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Config is a validated set of parameters.
type Config struct {
	File       string // config
	Hypervisor string // may be empty: libvirt's default URI
	ForceStop  bool

	Transport     string
	User          string
	Downtime      uint64 // ms; 0 = hypervisor default
	Speed         uint64 // MiB/s; 0 = unlimited
	NetSuffix     string
	MigrateURI    string // migrateuri, %n unexpanded
	MigrateOpts   MigrateOptions
	MigratePort   int // 0 = random per migration
	RemoteURI     string
	MonitorScript []string

	Util [3]UtilSetting // cpu, host_memory, hv_memory

	SaveConfig     bool
	SyncConfig     bool
	Snapshot       string
	BackingFile    string
	Stateless      bool
	ShutdownModes  []string
	StartResources bool
}

// UtilSetting is what monitor does with one utilization attribute.
type UtilSetting struct {
	Name  string // cpu, host_memory, hv_memory
	Set   bool   // autoset_utilization_<name>
	Unset bool   // unset_utilization_<name> (only when Set is false)
}

// shutdownModes are the methods virsh shutdown --mode accepts.
var shutdownModes = []string{"acpi", "agent", "initctl", "signal", "paravirt"}

// ParseConfig reads and checks the parameters. It does not read the config
// file; see DomainName.
func ParseConfig(r *ocf.Request) (*Config, error) {
	c := &Config{
		File:           r.Param("config"),
		Hypervisor:     r.Param("hypervisor"),
		ForceStop:      r.Bool("force_stop"),
		Transport:      r.Param("migration_transport"),
		User:           r.Param("migration_user"),
		NetSuffix:      r.Param("migration_network_suffix"),
		MigrateURI:     r.Param("migrateuri"),
		RemoteURI:      r.Param("remoteuri"),
		MonitorScript:  strings.Fields(r.Param("monitor_scripts")),
		SaveConfig:     r.Bool("save_config_on_stop") || r.Bool("sync_config_on_stop"),
		SyncConfig:     r.Bool("sync_config_on_stop"),
		Snapshot:       r.Param("snapshot"),
		BackingFile:    r.Param("backingfile"),
		Stateless:      r.Bool("stateless"),
		StartResources: r.Bool("start_resources"),
	}
	if c.File == "" {
		return nil, ocf.NotConfigured("config is required: the path of the domain XML")
	}
	if !strings.HasPrefix(c.File, "/") {
		return nil, ocf.NotConfigured("config must be an absolute path, not %q", c.File)
	}
	for _, n := range []string{"cpu", "host_memory", "hv_memory"} {
		u := UtilSetting{Name: n, Set: r.Bool("autoset_utilization_" + n)}
		u.Unset = !u.Set && r.Bool("unset_utilization_"+n)
		switch n {
		case "cpu":
			c.Util[0] = u
		case "host_memory":
			c.Util[1] = u
		default:
			c.Util[2] = u
		}
	}
	var err error
	if c.Downtime, err = decimal(r.Param("migration_downtime"), "migration_downtime"); err != nil {
		return nil, err
	}
	if c.Speed, err = decimal(r.Param("migration_speed"), "migration_speed"); err != nil {
		return nil, err
	}
	if r.Param("migrateport") != "" {
		if c.MigratePort, err = r.IntIn("migrateport", 1, 65535); err != nil {
			return nil, err
		}
	}
	if c.MigrateOpts, err = ParseMigrateOptions(r.Param("migrate_options")); err != nil {
		return nil, err
	}
	if m := r.Param("shutdown_mode"); m != "" {
		for _, f := range strings.Split(m, ",") {
			f = strings.TrimSpace(f)
			if !contains(shutdownModes, f) {
				return nil, ocf.NotConfigured("shutdown_mode %q is not one of %s", f, strings.Join(shutdownModes, ", "))
			}
			c.ShutdownModes = append(c.ShutdownModes, f)
		}
	}
	if c.ForceStop && c.Snapshot != "" {
		return nil, ocf.NotConfigured("force_stop and snapshot cannot be used together")
	}
	if c.Stateless && c.BackingFile == "" {
		return nil, ocf.NotConfigured("stateless needs a backingfile")
	}
	if c.Snapshot != "" && !strings.HasPrefix(c.Snapshot, "/") {
		return nil, ocf.NotConfigured("snapshot must be an absolute directory, not %q", c.Snapshot)
	}
	if d := r.Param("copyindirs"); d != "" {
		return nil, ocf.NotConfigured("copyindirs is not supported by this agent (it needs virt-copy-in from libguestfs)")
	}
	return c, nil
}

// decimal parses a non-negative decimal number as ocf_is_decimal accepts
// it; empty is 0.
func decimal(v, name string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, ocf.NotConfigured("%s has to be a decimal value, not %q", name, v)
	}
	return n, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errNoName is returned when the XML has no domain name.
var errNoName = errors.New("no <name> element in the domain XML")

// DomainName returns the name element of a domain XML document.
func DomainName(doc []byte) (string, error) {
	name, _, err := domainChild(doc, "name")
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", errNoName
	}
	return name, nil
}

// DomainUUID returns the uuid element of a domain XML document, "" when
// it has none (libvirt then makes one up at each define).
func DomainUUID(doc []byte) (string, error) {
	uuid, _, err := domainChild(doc, "uuid")
	return uuid, err
}

// WithUUID returns doc with a uuid element, the first child of <domain>,
// for a document that has none. The rest of the text is kept as it is.
func WithUUID(doc []byte, uuid string) ([]byte, error) {
	have, at, err := domainChild(doc, "uuid")
	if err != nil {
		return nil, err
	}
	if have != "" {
		return nil, fmt.Errorf("the domain XML has a uuid already (%s)", have)
	}
	out := make([]byte, 0, len(doc)+len(uuid)+16)
	out = append(out, doc[:at]...)
	out = append(out, "\n  <uuid>"+uuid+"</uuid>"...)
	return append(out, doc[at:]...), nil
}

// SameUUID compares two uuids as libvirt reads them: with or without
// dashes, in either case.
func SameUUID(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", "")) }
	return norm(a) == norm(b)
}

// domainChild returns the trimmed text of the first child element of
// <domain> named child ("" when there is none), and the offset just past
// the <domain ...> start tag.
func domainChild(doc []byte, child string) (text string, afterRoot int, err error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth == 0 && afterRoot == 0 {
				return "", 0, errors.New("not a domain XML: no <domain> element")
			}
			return "", afterRoot, nil
		}
		if err != nil {
			return "", 0, fmt.Errorf("not a domain XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 {
				if t.Name.Local != "domain" {
					return "", 0, fmt.Errorf("not a domain XML: the root element is <%s>", t.Name.Local)
				}
				afterRoot = int(d.InputOffset())
			}
			if depth == 2 && t.Name.Local == child {
				var v string
				if err := d.DecodeElement(&v, &t); err != nil {
					return "", 0, fmt.Errorf("not a domain XML: %v", err)
				}
				return strings.TrimSpace(v), afterRoot, nil
			}
		case xml.EndElement:
			depth--
			if depth == 0 {
				return "", afterRoot, nil
			}
		}
	}
}

// readDomainName reads config and returns the domain name. The error
// carries the OCF code upstream gives for this action: an unreadable file
// means "not running" to a probe and "stopped" to a stop (the file may live
// on storage that is not there yet or any more), and "not installed"
// otherwise.
func readDomainName(r *ocf.Request, file string) (string, []byte, error) {
	doc, err := os.ReadFile(file)
	if err != nil {
		switch {
		case r.Probe:
			return "", nil, ocf.Stopped("configuration file %s not readable during probe: %v", file, err)
		case r.Action == "stop":
			return "", nil, ocf.Stopped("configuration file %s not readable, resource considered stopped: %v", file, err)
		}
		return "", nil, ocf.NotInstalled("configuration file %s does not exist or is not readable: %v", file, err)
	}
	name, err := DomainName(doc)
	if err != nil {
		return "", nil, ocf.NotInstalled("%s: %v", file, err)
	}
	return name, doc, nil
}

// MigrateOptions are the virsh migrate options given in migrate_options.
type MigrateOptions struct {
	P2P, Tunnelled, Unsafe, Compressed, AutoConverge, PostCopy  bool
	AbortOnError, CopyStorageAll, CopyStorageInc, TLS, Parallel bool
	ParallelConnections                                         int
	ListenAddress                                               string
	MigrateURI                                                  string // --migrateuri, %n unexpanded
}

// ParseMigrateOptions translates migrate_options; an option that has no
// libvirt flag or parameter here is refused.
func ParseMigrateOptions(s string) (MigrateOptions, error) {
	var o MigrateOptions
	words := strings.Fields(s)
	for i := 0; i < len(words); i++ {
		w := words[i]
		name, val, hasVal := strings.Cut(w, "=")
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(words) {
				return "", ocf.NotConfigured("migrate_options: %s needs a value", name)
			}
			i++
			return words[i], nil
		}
		flags := map[string]*bool{
			"--p2p": &o.P2P, "--tunnelled": &o.Tunnelled, "--tunneled": &o.Tunnelled,
			"--unsafe": &o.Unsafe, "--compressed": &o.Compressed,
			"--auto-converge": &o.AutoConverge, "--postcopy": &o.PostCopy,
			"--abort-on-error": &o.AbortOnError, "--copy-storage-all": &o.CopyStorageAll,
			"--copy-storage-inc": &o.CopyStorageInc, "--tls": &o.TLS, "--parallel": &o.Parallel,
		}
		if p, ok := flags[name]; ok && !hasVal {
			*p = true
			continue
		}
		switch name {
		case "--live", "--persistent", "--undefinesource", "--verbose":
			// implied: the agent always migrates live, persistent on the
			// target and undefined on the source, and logs its progress
			continue
		case "--migrateuri", "--parallel-connections", "--listen-address":
			v, err := value()
			if err != nil {
				return o, err
			}
			switch name {
			case "--migrateuri":
				o.MigrateURI = v
			case "--listen-address":
				o.ListenAddress = v
			default:
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return o, ocf.NotConfigured("migrate_options: --parallel-connections needs a positive number, not %q", v)
				}
				o.ParallelConnections = n
				o.Parallel = true
			}
			continue
		}
		return o, ocf.NotConfigured("migrate_options: %q is not supported", w)
	}
	if o.Tunnelled && !o.P2P {
		return o, ocf.NotConfigured("migrate_options: --tunnelled needs --p2p")
	}
	if o.Tunnelled && o.MigrateURI != "" {
		return o, ocf.NotConfigured("migrate_options: --tunnelled cannot be combined with --migrateuri")
	}
	return o, nil
}
