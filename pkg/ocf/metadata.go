package ocf

import "time"

// Metadata describes an agent for the meta-data action. Package metaxml
// renders it to the subset of the OCF meta-data format that ocf-tester's
// ra-api-1.dtd, resource-agents' metadata.rng and pcs' ocf-1.1.rng all
// accept; the rendered files are committed under metadata/ and the binary
// serves them as they are, so that no XML encoder runs (or is even linked)
// in an agent process.
type Metadata struct {
	Name       string // agent type, e.g. "IPaddr2"
	Version    string // the agent's own version
	OCFVersion string // "1.1" unless set
	ShortDesc  string
	LongDesc   string
	Parameters []Parameter
	Actions    []ActionSpec
}

// Parameter types that every validator accepts.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
)

// Parameter is one instance parameter.
type Parameter struct {
	Name      string
	Type      string // TypeString, TypeInteger or TypeBoolean
	Default   string
	Required  bool
	Unique    bool
	ShortDesc string
	LongDesc  string
}

// Param builds an optional parameter; set Required or Unique on the
// result where needed.
func Param(name, typ, def, short, long string) Parameter {
	return Parameter{Name: name, Type: typ, Default: def, ShortDesc: short, LongDesc: long}
}

// Key marks p as the parameter that names what the resource manages (the
// address, the domain's config, the DRBD resource): required, and unique
// across the cluster's resources of the agent.
func (p Parameter) Key() Parameter {
	p.Required, p.Unique = true, true
	return p
}

// ActionSpec is one advertised action with its default timeout.
type ActionSpec struct {
	Name       string
	Timeout    time.Duration
	Interval   time.Duration
	Depth      int  // rendered only when HasDepth
	HasDepth   bool // monitor and status advertise their depth
	Role       string
	StartDelay time.Duration
}

// Action returns the advertised spec of name, if any.
func (m *Metadata) Action(name string) (ActionSpec, bool) {
	for _, a := range m.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return ActionSpec{}, false
}

// Parameter returns the parameter called name, if any.
func (m *Metadata) Parameter(name string) (Parameter, bool) {
	for _, p := range m.Parameters {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

// Example is a worked configuration of an agent, as a user types it with
// pcs and with the crm shell. The man pages (pkg/ocf/metaxml) print them;
// the agent itself never looks at them.
type Example struct {
	Title string // one line: what the configuration is for
	Text  string // an optional paragraph: what to note
	PCS   string // pcs commands, one per line ("\" continues a line)
	CRM   string // the same with crm configure
}
