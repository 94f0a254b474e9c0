package fence

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type is an option's value type, as the fence-agents metadata names it.
type Type string

// Option types.
const (
	String  Type = "string"
	Integer Type = "integer"
	Boolean Type = "boolean"
	Second  Type = "second"
	Select  Type = "select"
)

// Option describes one parameter of a fence agent.
type Option struct {
	Name    string   // stdin name, e.g. "ip"
	Aliases []string // deprecated stdin names still accepted and listed, e.g. "ipaddr"
	// Accepts are further stdin names taken for this option but not
	// listed in the metadata (FenceAgentAPI's "option" for "action").
	Accepts   []string
	Short     string // e.g. "a" for -a (empty: none)
	Long      string // e.g. "ip" for --ip (empty: Name with "_" as "-"; "-": none)
	Arg       string // the value placeholder of the getopt text, e.g. "[ip]"
	Type      Type
	Default   string
	Choices   []string // for Select
	Required  bool
	Secret    bool // never shown in messages
	ShortDesc string
}

// Getopt is the option's command-line form as the metadata shows it,
// e.g. "-a, --ip=[ip]".
func (o *Option) Getopt() string {
	var parts []string
	if o.Short != "" {
		parts = append(parts, "-"+o.Short)
	}
	if l := o.long(); l != "" {
		l = "--" + l
		if o.Arg != "" {
			l += "=" + o.Arg
		}
		parts = append(parts, l)
	}
	return strings.Join(parts, ", ")
}

func (o *Option) long() string {
	if o.Long == "-" {
		return ""
	}
	if o.Long != "" {
		return o.Long
	}
	return strings.ReplaceAll(o.Name, "_", "-")
}

// Options are the parsed values of one invocation.
type Options struct {
	specs    []Option
	values   map[string]string
	Warnings []string // things ignored, for the log (secrets left out)
}

// ignoredSilently tells the stdin keys pacemaker-fenced sends that an
// agent without them must accept without a word.
func ignoredSilently(key string) bool { return key == "nodename" }

// Parse reads the options of an invocation: from args (without the
// program name) when there are any, else from stdin.
func Parse(specs []Option, args []string, stdin io.Reader) (*Options, error) {
	o := &Options{specs: specs, values: map[string]string{}}
	if len(args) > 0 {
		return o, o.parseArgs(args)
	}
	if stdin == nil {
		return o, nil
	}
	return o, o.parseStdin(stdin)
}

func normal(name string) string { return strings.ReplaceAll(strings.TrimSpace(name), "-", "_") }

func (o *Options) byName(name string) *Option {
	n := normal(name)
	for i := range o.specs {
		s := &o.specs[i]
		if s.Name == n {
			return s
		}
		for _, a := range s.Aliases {
			if normal(a) == n {
				return s
			}
		}
		for _, a := range s.Accepts {
			if normal(a) == n {
				return s
			}
		}
	}
	return nil
}

func (o *Options) parseStdin(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			// Not shown: it may be the rest of a value with a newline.
			o.Warnings = append(o.Warnings, fmt.Sprintf("ignoring line %d of stdin, which is not key=value", n))
			continue
		}
		// As fencing.py: the value is everything after the first "=".
		key = normal(key)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		spec := o.byName(key)
		switch {
		case spec == nil && ignoredSilently(key):
		case spec == nil:
			o.Warnings = append(o.Warnings, fmt.Sprintf("ignoring unknown option %q", key))
		default:
			if err := o.set(spec, value); err != nil {
				o.Warnings = append(o.Warnings, err.Error()+"; ignored")
			} else if spec.Name == "verbose" && o.Bool("verbose") && !o.IsSet("verbose_level") && o.byName("verbose_level") != nil {
				o.values["verbose_level"] = "1" // as fencing.py: verbose=1 on stdin is level 1
			}
		}
	}
	return sc.Err()
}

// parseArgs reads the command line as gnu_getopt does: --name[=value],
// -x value, -xvalue, and clusters of short flags (-Pv, -vvv, -Pp secret:
// a flag without value takes one letter, the first letter that takes a
// value takes the rest of the cluster or the next argument). Repeated -v
// sets verbose_level to their count.
func (o *Options) parseArgs(args []string) error {
	verbose := 0
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case strings.HasPrefix(arg, "--") && len(arg) > 2:
			name, v, found := strings.Cut(arg[2:], "=")
			var spec *Option
			for j := range o.specs {
				if l := o.specs[j].long(); l != "" && l == name {
					spec = &o.specs[j]
				}
			}
			if spec == nil {
				return fmt.Errorf("unknown option --%s", name)
			}
			if !found {
				if spec.Type == Boolean {
					v = "1"
				} else {
					if i+1 >= len(args) {
						return fmt.Errorf("option --%s needs a value", name)
					}
					i++
					v = args[i]
				}
			}
			if spec.Name == "verbose" {
				verbose++
			}
			if err := o.set(spec, v); err != nil {
				return err
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			for k := 1; k < len(arg); k++ {
				short := arg[k : k+1]
				var spec *Option
				for j := range o.specs {
					if o.specs[j].Short == short {
						spec = &o.specs[j]
					}
				}
				if spec == nil {
					return fmt.Errorf("unknown option -%s", short)
				}
				if spec.Type == Boolean {
					if spec.Name == "verbose" {
						verbose++
					}
					if err := o.set(spec, "1"); err != nil {
						return err
					}
					continue
				}
				v := arg[k+1:]
				if v == "" {
					if i+1 >= len(args) {
						return fmt.Errorf("option -%s needs a value", short)
					}
					i++
					v = args[i]
				}
				if err := o.set(spec, v); err != nil {
					return err
				}
				break
			}
		default:
			// Not echoed: a stray word may well be a password whose
			// option was mistyped.
			return fmt.Errorf("unexpected argument at position %d: options start with - or --", i+1)
		}
	}
	if verbose > 0 && !o.IsSet("verbose_level") && o.byName("verbose_level") != nil {
		o.values["verbose_level"] = strconv.Itoa(verbose)
	}
	return nil
}

// set checks and stores one value.
func (o *Options) set(spec *Option, value string) error {
	shown := func() string {
		if spec.Secret {
			return "[hidden]"
		}
		return strconv.Quote(value)
	}
	switch spec.Type {
	case Boolean:
		switch strings.ToLower(value) {
		case "", "1", "yes", "on", "true":
			value = "1"
		case "0", "no", "off", "false":
			value = "0"
		default:
			return fmt.Errorf("%s=%s is not a boolean", spec.Name, shown())
		}
	case Integer, Second:
		if f, err := strconv.ParseFloat(value, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s=%s is not a number", spec.Name, shown())
		}
	case Select:
		matched := ""
		for _, c := range spec.Choices {
			if strings.EqualFold(c, value) {
				matched = c
			}
		}
		if matched == "" {
			return fmt.Errorf("%s=%s is not one of %s", spec.Name, shown(), strings.Join(spec.Choices, ", "))
		}
		value = matched
	}
	o.values[spec.Name] = value
	return nil
}

// Get returns an option's value, or its default.
func (o *Options) Get(name string) string {
	if v, ok := o.values[name]; ok {
		return v
	}
	if s := o.byName(name); s != nil {
		return s.Default
	}
	return ""
}

// IsSet reports whether the option was given.
func (o *Options) IsSet(name string) bool {
	_, ok := o.values[name]
	return ok
}

// Bool returns a boolean option.
func (o *Options) Bool(name string) bool { return o.Get(name) == "1" }

// Float returns a numeric option (integer or seconds), 0 when unset.
func (o *Options) Float(name string) float64 {
	f, _ := strconv.ParseFloat(o.Get(name), 64)
	return f
}

// Seconds returns an option in seconds as a duration (0 when unset or
// negative).
func (o *Options) Seconds(name string) time.Duration {
	f := o.Float(name)
	if f <= 0 || f > 1e6 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Set stores a value as if it had been given (defaults an agent derives,
// e.g. the IP from the plug with port_as_ip). It is not checked.
func (o *Options) Set(name, value string) {
	if s := o.byName(name); s != nil {
		o.values[s.Name] = value
	}
}

// Missing returns the required options that have no value.
func (o *Options) Missing() []string {
	var out []string
	for _, s := range o.specs {
		if s.Required && o.Get(s.Name) == "" {
			out = append(out, s.Name)
		}
	}
	return out
}
