package ocf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Handler runs one action. It returns nil for success or an error whose
// code (see CodeOf) is the exit code.
type Handler func(ctx context.Context, r *Request) error

// Agent is an OCF resource agent: its metadata and its action handlers.
// Handlers should exist for every advertised action except meta-data,
// usage and methods, which this package answers itself. "status" falls
// back to the monitor handler.
type Agent struct {
	Meta     Metadata
	Handlers map[string]Handler
	// MetadataXML is the rendered metadata the meta-data action prints
	// (see package metaxml).
	MetadataXML []byte
}

// Actions is the handler table every agent starts from: the four actions
// the OCF contract asks of any resource. An agent with more (promote,
// migrate_to, ...) adds them to the map.
func Actions(start, stop, monitor, validate Handler) map[string]Handler {
	return map[string]Handler{"start": start, "stop": stop, "monitor": monitor, "validate-all": validate}
}

// Invocation is what a process was started with.
type Invocation struct {
	Args   []string // argv; Args[1] is the action
	Env    []string // "NAME=value" entries
	Stdout io.Writer
	Stderr io.Writer
	Start  time.Time // when the process started (for the time budget)
	// Handoff replaces the process with another program acting as the
	// agent, for an action that returned Handoff: Delegate in a real
	// process (Main), nil (no hand-over) where Exec runs in a test.
	Handoff func(agent, program string)
}

// Main runs the agent for this process and exits with its code.
func Main(a *Agent) {
	code := Exec(a, Invocation{
		Args: os.Args, Env: os.Environ(),
		Stdout: os.Stdout, Stderr: os.Stderr, Start: time.Now(),
		Handoff: Delegate,
	})
	os.Exit(int(code))
}

// Exec runs one action as Pacemaker would have it run, writing the
// metadata or usage to stdout and log lines and the exit reason to stderr,
// and returns the exit code.
func Exec(a *Agent, inv Invocation) Status {
	if inv.Start.IsZero() {
		inv.Start = time.Now()
	}
	env := envMap(inv.Env)
	action := ""
	if len(inv.Args) > 1 {
		action = inv.Args[1] // further arguments are ignored (OCF 1.1)
	}
	switch action {
	case "meta-data":
		if len(a.MetadataXML) == 0 {
			exitReason(inv.Stderr, env, "this build of "+a.Meta.Name+" carries no metadata")
			return ErrGeneric
		}
		_, _ = inv.Stdout.Write(a.MetadataXML)
		return Success
	case "usage", "help":
		fmt.Fprint(inv.Stdout, a.usage())
		return Success
	case "methods":
		fmt.Fprintln(inv.Stdout, strings.Join(a.actions(), "\n"))
		return Success
	}
	h := a.handler(action)
	if h == nil {
		fmt.Fprint(inv.Stderr, a.usage())
		if action == "" {
			return ErrUnimplemented
		}
		exitReason(inv.Stderr, env, fmt.Sprintf("action %q is not supported by %s", action, a.Meta.Name))
		return ErrUnimplemented
	}

	r := parseEnv(env, action, a)
	r.Log = newLogger(env, LogTag(r.Agent, r.Instance), inv.Stderr)
	defer r.Log.Close()
	if r.Instance == "" {
		if env["OCF_RA_VERSION_MAJOR"] != "" {
			exitReason(inv.Stderr, env, "OCF_RESOURCE_INSTANCE is not set")
			return ErrArgs
		}
		// Not started by an OCF 1.x executor: like ocf-shellfuncs, assume a
		// manual run.
		r.Instance = "default"
		r.Log.tag = LogTag(r.Agent, r.Instance)
	}
	r.Timeout = a.timeoutFor(action, r.Meta.Timeout)
	r.Deadline = inv.Start.Add(r.Timeout - Margin(r.Timeout))

	err := runHandler(h, withLazyDeadline(r.Deadline), r)
	var ho *handoff
	if errors.As(err, &ho) && inv.Handoff != nil {
		r.Log.Debugf("handing %s over to %s", action, ho.program)
		inv.Handoff(a.Meta.Name, ho.program) // returns only when the program is missing
	}
	code := CodeOf(err)
	if reason := ReasonOf(err); reason != "" {
		if code == Success {
			r.Log.Infof("%s", reason)
		} else {
			if code != NotRunning {
				r.Log.Errorf("%s", reason)
			}
			exitReason(inv.Stderr, env, reason)
		}
	}
	return code
}

// runHandler calls the handler and turns a panic into a generic error: a
// Go panic would exit with 2, which Pacemaker masks to "not running" for a
// probe — a resource running here could then be started elsewhere too.
func runHandler(h Handler, ctx context.Context, r *Request) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Generic("internal error in %s %s: %v", r.Agent, r.Action, p)
		}
	}()
	return h(ctx, r)
}

// Margin is the part of an operation's timeout kept in reserve so that an
// action can report its own failure before Pacemaker kills it: a tenth of
// the timeout, at least 0.5 s (but never more than half the timeout) and at
// most 5 s.
func Margin(timeout time.Duration) time.Duration {
	m := timeout / 10
	if m < 500*time.Millisecond {
		m = 500 * time.Millisecond
	}
	if m > 5*time.Second {
		m = 5 * time.Second
	}
	if m > timeout/2 {
		m = timeout / 2
	}
	return m
}

// timeoutFor returns the operation timeout: the one Pacemaker passed, else
// the advertised default of the action, else 20 s.
func (a *Agent) timeoutFor(action string, given time.Duration) time.Duration {
	if given > 0 {
		return given
	}
	if spec, ok := a.Meta.Action(action); ok && spec.Timeout > 0 {
		return spec.Timeout
	}
	if action == "status" {
		if spec, ok := a.Meta.Action("monitor"); ok && spec.Timeout > 0 {
			return spec.Timeout
		}
	}
	return 20 * time.Second
}

func (a *Agent) handler(action string) Handler {
	if action == "" {
		return nil
	}
	if h, ok := a.Handlers[action]; ok {
		return h
	}
	if action == "status" {
		return a.Handlers["monitor"]
	}
	return nil
}

func (a *Agent) actions() []string {
	names := []string{"meta-data", "usage", "methods"}
	for n := range a.Handlers {
		names = append(names, n)
	}
	if _, ok := a.Handlers["monitor"]; ok {
		if _, ok := a.Handlers["status"]; !ok {
			names = append(names, "status")
		}
	}
	sort.Strings(names)
	return names
}

func (a *Agent) usage() string {
	return fmt.Sprintf("usage: %s {%s}\n", a.Meta.Name, strings.Join(a.actions(), "|"))
}

// exitReason writes the exit-reason line Pacemaker looks for. It keeps one
// line: the executor reads up to the end of the line.
func exitReason(w io.Writer, env map[string]string, reason string) {
	prefix := env["OCF_EXIT_REASON_PREFIX"]
	if prefix == "" {
		prefix = "ocf-exit-reason:"
	}
	reason = strings.Join(strings.Fields(reason), " ")
	fmt.Fprintf(w, "%s%s\n", prefix, reason)
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if i := strings.IndexByte(kv, '='); i > 0 {
			m[kv[:i]] = kv[i+1:]
		}
	}
	return m
}
