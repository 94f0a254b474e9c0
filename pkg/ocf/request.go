package ocf

import (
	"strconv"
	"strings"
	"time"
)

// Prefixes of the variables Pacemaker sets for an agent.
const (
	resKeyPrefix = "OCF_RESKEY_"
	metaPrefix   = "OCF_RESKEY_CRM_meta_"
)

// Request is one action of one resource, parsed once from the environment.
type Request struct {
	Action   string // the action as given (e.g. "monitor", "status")
	Agent    string // agent type, e.g. "IPaddr2"
	Instance string // OCF_RESOURCE_INSTANCE, e.g. "vip" or "drbd0:1"

	// Params holds every instance parameter that was set (OCF_RESKEY_<name>),
	// without meta attributes. Read it through Param, Bool and Int, which
	// apply the metadata defaults.
	Params map[string]string

	Meta       Meta
	Notify     Notify
	CheckLevel int  // OCF_CHECK_LEVEL (0 when unset)
	Probe      bool // a one-shot monitor with interval 0

	// Timeout is the operation timeout Pacemaker enforces (or the metadata
	// default); Deadline is when the handler's context expires, Timeout less
	// the safety margin, measured from the start of the process.
	Timeout  time.Duration
	Deadline time.Time

	// StateDir is HA_RSCTMP: volatile per-node state (cleared at boot).
	StateDir string

	Log *Logger

	defaults map[string]string
	env      map[string]string
}

// Meta holds the meta attributes that agents use (OCF_RESKEY_CRM_meta_*).
type Meta struct {
	Timeout    time.Duration // CRM_meta_timeout (0 if unset)
	Interval   time.Duration // CRM_meta_interval; 0 for probes and one-shot ops
	Name       string        // operation name
	OnNode     string
	OnNodeUUID string
	OpTargetRC int // -1 if unset

	Clone          int // instance number; -1 when not a clone instance
	CloneMax       int
	CloneNodeMax   int
	GloballyUnique bool
	NotifyEnabled  bool

	// Promotable clones: the 2.x names, falling back to the legacy
	// master_max/master_node_max.
	PromotedMax     int
	PromotedNodeMax int
	Promotable      bool

	MigrateSource string
	MigrateTarget string

	// Raw holds every meta attribute by its name without the prefix.
	Raw map[string]string
}

// IsClone reports whether the resource runs as a clone instance.
func (m Meta) IsClone() bool { return m.CloneMax > 0 }

// IsPromotable follows ocf-shellfuncs' ocf_is_ms: promotable=true, or a
// promoted-max above zero.
func (m Meta) IsPromotable() bool { return m.Promotable || m.PromotedMax > 0 }

// Notify is the notification data of a clone notify action. The lists map
// a kind ("start", "stop", "active", "inactive", "promote", "demote",
// "promoted", "unpromoted", "available", "all") to the names given; the
// legacy "master"/"slave" lists are merged into "promoted"/"unpromoted".
type Notify struct {
	Type      string // "pre" or "post"
	Operation string // "start", "stop", "promote", "demote"
	Resources map[string][]string
	Unames    map[string][]string
}

// IsRecurring reports whether this is a recurring monitor.
func (r *Request) IsRecurring() bool { return r.Meta.Interval > 0 }

// BaseInstance is the instance name without a clone suffix (":N"): the name
// anonymous clone instances share, used in promotion attributes.
func (r *Request) BaseInstance() string {
	if i := strings.LastIndexByte(r.Instance, ':'); i > 0 {
		if _, err := strconv.Atoi(r.Instance[i+1:]); err == nil {
			return r.Instance[:i]
		}
	}
	return r.Instance
}

// EnvValue returns an environment variable as the agent was started with
// it. It exists for the few documented variables an agent needs beyond the
// OCF set (e.g. PATH for helpers); agents must not read os.Getenv.
func (r *Request) EnvValue(name string) string { return r.env[name] }

// parseEnv builds a Request from an environment map. It never fails: odd
// values fall back to their zero value, so meta-data and usage always work.
func parseEnv(env map[string]string, action string, agent *Agent) *Request {
	r := &Request{
		Action:   action,
		Agent:    agent.Meta.Name,
		Instance: env["OCF_RESOURCE_INSTANCE"],
		Params:   map[string]string{},
		env:      env,
		defaults: map[string]string{},
	}
	if t := env["OCF_RESOURCE_TYPE"]; t != "" {
		r.Agent = t
	}
	for _, p := range agent.Meta.Parameters {
		r.defaults[p.Name] = p.Default
	}
	m := Meta{Raw: map[string]string{}, Clone: -1, OpTargetRC: -1}
	for k, v := range env {
		switch {
		case strings.HasPrefix(k, metaPrefix):
			m.Raw[k[len(metaPrefix):]] = v
		case strings.HasPrefix(k, resKeyPrefix):
			name := k[len(resKeyPrefix):]
			if name == "crm_feature_set" {
				continue
			}
			r.Params[name] = v
		}
	}
	m.Timeout = msec(m.Raw["timeout"])
	m.Interval = msec(m.Raw["interval"])
	m.Name = m.Raw["name"]
	m.OnNode = m.Raw["on_node"]
	m.OnNodeUUID = m.Raw["on_node_uuid"]
	m.OpTargetRC = atoiOr(m.Raw["op_target_rc"], -1)
	m.Clone = atoiOr(m.Raw["clone"], -1)
	m.CloneMax = atoiOr(m.Raw["clone_max"], 0)
	m.CloneNodeMax = atoiOr(m.Raw["clone_node_max"], 0)
	m.GloballyUnique = IsTrue(m.Raw["globally_unique"])
	m.NotifyEnabled = IsTrue(m.Raw["notify"])
	m.PromotedMax = atoiOr(firstSet(m.Raw["promoted_max"], m.Raw["master_max"]), 0)
	m.PromotedNodeMax = atoiOr(firstSet(m.Raw["promoted_node_max"], m.Raw["master_node_max"]), 0)
	m.Promotable = IsTrue(m.Raw["promotable"])
	m.MigrateSource = m.Raw["migrate_source"]
	m.MigrateTarget = m.Raw["migrate_target"]
	r.Meta = m

	r.Notify = parseNotify(m.Raw)

	level := firstSet(env["OCF_CHECK_LEVEL"], env["OCF_RESKEY_OCF_CHECK_LEVEL"])
	r.CheckLevel = atoiOr(level, 0)
	r.Probe = (action == "monitor" || action == "status") && m.Interval == 0

	r.StateDir = firstSet(env["HA_RSCTMP"], "/run/resource-agents")
	return r
}

func parseNotify(raw map[string]string) Notify {
	n := Notify{
		Type:      raw["notify_type"],
		Operation: raw["notify_operation"],
		Resources: map[string][]string{},
		Unames:    map[string][]string{},
	}
	kinds := []string{"start", "stop", "active", "inactive", "promote", "demote",
		"promoted", "unpromoted", "available", "all"}
	legacy := map[string]string{"promoted": "master", "unpromoted": "slave"}
	for _, k := range kinds {
		for suffix, dst := range map[string]map[string][]string{"_resource": n.Resources, "_uname": n.Unames} {
			v, ok := raw["notify_"+k+suffix]
			if !ok {
				if old, has := legacy[k]; has {
					v, ok = raw["notify_"+old+suffix]
				}
			}
			if ok {
				// An empty list arrives as a single space.
				dst[k] = strings.Fields(v)
			}
		}
	}
	return n
}

func msec(s string) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// NewRequest builds the Request an executor would give agent a for action
// with these instance parameters and meta attributes (names without the
// OCF_RESKEY_ and CRM_meta_ prefixes), without a process: for tests of an
// agent's parameter handling.
func NewRequest(a *Agent, instance, action string, params, meta map[string]string) *Request {
	env := map[string]string{"OCF_RESOURCE_INSTANCE": instance}
	for k, v := range params {
		env[resKeyPrefix+k] = v
	}
	for k, v := range meta {
		env[metaPrefix+k] = v
	}
	r := parseEnv(env, action, a)
	r.Log = &Logger{}
	return r
}

// Environ returns the environment the agent was started with, sorted, with
// extra entries ("NAME=value") added or replacing ones of the same name:
// for a helper that must see what the agent saw plus a few settings.
func (r *Request) Environ(extra ...string) []string {
	m := make(map[string]string, len(r.env)+len(extra))
	for k, v := range r.env {
		m[k] = v
	}
	for _, e := range extra {
		if k, v, ok := strings.Cut(e, "="); ok {
			m[k] = v
		}
	}
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}
