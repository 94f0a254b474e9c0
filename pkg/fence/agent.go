package fence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Exit codes, as fencing.py gives them: every failure is 1, and status
// says 2 for a machine that is off.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitOff    = 2
)

// PowerOp is a power command sent to a device.
type PowerOp string

// Power commands.
const (
	On    PowerOp = "on"
	Off   PowerOp = "off"
	Cycle PowerOp = "cycle"
	Diag  PowerOp = "diag" // a diagnostic interrupt (NMI)
)

// Device is the power switch of one machine, as a fence agent drives it.
// Every call must end by the context's deadline or its own timeouts.
type Device interface {
	// Status reports whether the machine's power is on.
	Status(ctx context.Context) (on bool, err error)
	// Power sends one command; it does not wait for its effect.
	Power(ctx context.Context, op PowerOp) error
	// Close ends the session, if there is one.
	Close()
}

// Symlink is another name the agent is installed under, with the option
// defaults that name implies.
type Symlink struct {
	Name      string
	ShortDesc string
	Defaults  map[string]string
}

// ActionSpec is an advertised action.
type ActionSpec struct {
	Name      string
	Automatic bool // rendered as automatic="0|1" when set on "on"
	HasAuto   bool
}

// Agent is one fence agent: its description, options and device.
type Agent struct {
	Name      string
	ShortDesc string
	LongDesc  string
	VendorURL string
	Version   string
	Date      string // the man page date (YYYY-MM-DD); empty leaves it out
	Symlinks  []Symlink
	Options   []Option
	Actions   []ActionSpec
	// Validate checks the options without contacting the device.
	Validate func(o *Options) error
	// Open returns the device the options describe. It may connect
	// lazily; log gets the agent's log lines.
	Open func(ctx context.Context, o *Options, log *ocf.Logger) (Device, error)
	// Metadata returns the committed metadata document of the agent
	// called by name (nil: render it).
	Metadata func(name string) []byte
}

// As returns the agent as it is when called by name: a symlink's
// defaults applied and its name used. Unknown names give the agent as it is.
func (a *Agent) As(name string) *Agent {
	b := *a
	b.Options = append([]Option(nil), a.Options...)
	for _, s := range a.Symlinks {
		if s.Name != name {
			continue
		}
		b.Name = name
		b.ShortDesc = s.ShortDesc
		for i := range b.Options {
			if d, ok := s.Defaults[b.Options[i].Name]; ok {
				b.Options[i].Default = d
			}
		}
	}
	return &b
}

// Invocation is what a process was started with.
type Invocation struct {
	Args   []string // argv, Args[0] the program name
	Stdin  io.Reader
	Env    []string
	Stdout io.Writer
	Stderr io.Writer
}

// Main runs the agent for this process and exits with its code.
func Main(a *Agent) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := Run(ctx, a, Invocation{
		Args: os.Args, Stdin: os.Stdin, Env: os.Environ(),
		Stdout: os.Stdout, Stderr: os.Stderr,
	})
	stop()
	os.Exit(code)
}

// Run runs one invocation and returns the exit code.
func Run(ctx context.Context, a *Agent, inv Invocation) int {
	name := a.Name
	if len(inv.Args) > 0 {
		name = baseName(inv.Args[0])
	}
	a = a.As(name)
	log := ocf.NewLogger(inv.Env, a.Name, nil)
	defer log.Close()
	stderr := inv.Stderr
	fail := func(format string, args ...any) int {
		msg := fmt.Sprintf(format, args...)
		log.Errorf("Failed: %s", msg)
		fmt.Fprintf(stderr, "Failed: %s\n", msg)
		return ExitFailed
	}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		log.Warnf("%s", msg)
		fmt.Fprintf(stderr, "WARNING: %s\n", msg)
	}

	var args []string
	if len(inv.Args) > 1 {
		args = inv.Args[1:]
	}
	o, err := Parse(a.Options, args, inv.Stdin)
	if err != nil {
		return fail("%v (see %s --help)", err, a.Name)
	}
	if o.Bool("quiet") {
		stderr = io.Discard // as fencing.py: syslog and debug_file only
	}
	for _, w := range o.Warnings {
		warn("%s", w)
	}
	if o.Bool("verbose") || o.IsSet("debug_file") {
		log = verboseLogger(inv, a.Name, o)
		defer log.Close()
	}
	switch {
	case o.Bool("help"):
		fmt.Fprint(inv.Stdout, a.Usage())
		return ExitOK
	case o.Bool("version"):
		fmt.Fprintf(inv.Stdout, "%s %s\n", a.Name, a.Version)
		return ExitOK
	}

	action := strings.ToLower(o.Get("action"))
	if action == "meta-data" { // fencing.py takes both spellings
		action = "metadata"
	}
	if !o.IsSet("action") {
		log.Warnf("no action given: %s, as fence agents do", action)
	}
	switch action {
	case "metadata":
		if a.Metadata != nil {
			if m := a.Metadata(a.Name); m != nil {
				_, _ = inv.Stdout.Write(m)
				return ExitOK
			}
		}
		_, _ = inv.Stdout.Write(a.RenderMetadata())
		return ExitOK
	case "manpage":
		_, _ = inv.Stdout.Write(a.RenderManpage())
		return ExitOK
	case "validate-all", "on", "off", "reboot", "status", "monitor", "list", "list-status", "diag":
	default:
		return fail("Unrecognised action %q", action)
	}

	if missing := o.Missing(); len(missing) > 0 {
		return fail("missing required option %s", strings.Join(missing, ", "))
	}
	if a.Validate != nil {
		if err := a.Validate(o); err != nil {
			return fail("%v", err)
		}
	}
	if action == "validate-all" {
		return ExitOK
	}

	dev, err := a.Open(ctx, o, log)
	if err != nil {
		return fail("%v", err)
	}
	defer dev.Close()
	timing, note := TimingOf(o)
	if note != "" {
		warn("%s", note)
	}
	s := newSequencer(dev, timing, log)
	if action == "off" || action == "reboot" {
		if err := s.delay(ctx); err != nil {
			return fail("%v", err)
		}
	}
	msg, code, err := s.run(ctx, action)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("interrupted (%v)", err)
		}
		return fail("%v", err)
	}
	if msg != "" {
		log.Infof("%s", msg)
		fmt.Fprintln(inv.Stdout, msg)
	}
	return code
}

// verboseLogger adds the stderr (verbose) and debug_file destinations
// and turns DEBUG lines on.
func verboseLogger(inv Invocation, name string, o *Options) *ocf.Logger {
	env := append([]string(nil), inv.Env...)
	env = append(env, "HA_debug=1")
	if f := o.Get("debug_file"); f != "" {
		env = append(env, "HA_DEBUGLOG="+f)
	}
	var stderr io.Writer
	if o.Bool("verbose") {
		stderr = inv.Stderr
		env = append(env, "HA_LOGFACILITY=none")
	}
	return ocf.NewLogger(env, name, stderr)
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Usage is the --help text.
func (a *Agent) Usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n\t%s [options]\n\t(no options: key=value lines on stdin)\nOptions:\n", a.Name)
	for i := range a.Options {
		op := &a.Options[i]
		g := op.Getopt()
		if g == "" {
			continue
		}
		desc := op.ShortDesc
		if op.Default != "" {
			desc += " (default " + op.Default + ")"
		}
		fmt.Fprintf(&b, "   %-40s %s\n", g, desc)
	}
	return b.String()
}
