package ocf

import (
	"strconv"
	"strings"
)

// IsTrue interprets a boolean parameter the way ocf-shellfuncs' ocf_is_true
// does: yes, true, 1, on (any case) are true; everything else is false.
func IsTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "1", "on":
		return true
	}
	return false
}

// IsBool reports whether v is a value ocf_is_true or its negation accepts
// without doubt: one of yes/no, true/false, 1/0, on/off.
func IsBool(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "1", "on", "no", "false", "0", "off":
		return true
	}
	return false
}

// Param returns the parameter's value, or its metadata default when the
// parameter is not set. A parameter set to the empty string stays empty,
// as with the shell agents' ${VAR=default}.
func (r *Request) Param(name string) string {
	if v, ok := r.Params[name]; ok {
		return v
	}
	return r.defaults[name]
}

// IsSet reports whether the parameter was given at all.
func (r *Request) IsSet(name string) bool {
	_, ok := r.Params[name]
	return ok
}

// Bool returns a boolean parameter with ocf_is_true semantics.
func (r *Request) Bool(name string) bool { return IsTrue(r.Param(name)) }

// Int returns an integer parameter. An unparsable value is a configuration
// error (OCF_ERR_CONFIGURED) that names the parameter.
func (r *Request) Int(name string) (int, error) {
	v := strings.TrimSpace(r.Param(name))
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, NotConfigured("parameter %s=%q is not an integer", name, v)
	}
	return n, nil
}

// IntIn returns an integer parameter that must lie within [lo, hi]; a
// value that is not an integer, or outside, is a configuration error
// (OCF_ERR_CONFIGURED) that names the parameter and the range.
func (r *Request) IntIn(name string, lo, hi int) (int, error) {
	n, err := r.Int(name)
	if err != nil {
		return 0, err
	}
	if n < lo || n > hi {
		if hi == MaxInt {
			return 0, NotConfigured("parameter %s=%d must be %d or more", name, n, lo)
		}
		return 0, NotConfigured("parameter %s=%d is outside %d..%d", name, n, lo, hi)
	}
	return n, nil
}

// MaxInt is the largest int, for IntIn without an upper bound.
const MaxInt = int(^uint(0) >> 1)
