package metaxml

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/pkg/roff"
)

// Page says where a man page's agent comes from: Manpage needs it beside
// the metadata.
type Page struct {
	Provider string // the OCF provider, "paceline"
	Version  string // the package version, in the page footer
	Date     string // the page date, YYYY-MM-DD
	Replaces string // the upstream agent this one stands in for
	Examples []ocf.Example
}

// ManName is the man page name of an OCF agent, as resource-agents names
// its own: ocf_<provider>_<agent>, in section 7.
func ManName(provider, agent string) string { return "ocf_" + provider + "_" + agent }

// Manpage renders the section 7 manual page of an OCF agent from its
// metadata: description, every parameter with its type and default,
// every advertised action with its default timeout, and the examples.
func Manpage(m ocf.Metadata, p Page) []byte {
	r := roff.Escape
	name := ManName(p.Provider, m.Name)
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s 7 \"%s\" \"%s\" \"OCF resource agents\"\n", strings.ToUpper(name), roff.Arg(p.Date), roff.Arg("paceline "+p.Version))
	b.WriteString(".nh\n.ad l\n")
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", r(name), r(tidy(m.ShortDesc)))

	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n[%s]\n", r(m.Name), r(strings.Join(actionNames(m), " | ")))
	fmt.Fprintf(&b, ".PP\nPacemaker runs it as\n.BR ocf:%s:%s ,\nthe program\n.IR /usr/lib/ocf/resource.d/%s/%s .\n",
		r(p.Provider), r(m.Name), r(p.Provider), r(m.Name))

	b.WriteString(".SH DESCRIPTION\n")
	b.WriteString(roff.Paragraphs(m.LongDesc))
	if p.Replaces != "" && !strings.Contains(strings.Join(strings.Fields(m.LongDesc), " "), "replacement for "+p.Replaces) {
		fmt.Fprintf(&b, ".PP\nA drop\\-in replacement for\n.BR %s :\nthe same parameters with the same defaults, so that a resource switches by its agent name.\n", r(p.Replaces))
	}

	b.WriteString(".SH SUPPORTED PARAMETERS\n")
	for _, pa := range m.Parameters {
		fmt.Fprintf(&b, ".TP\n.B %s\n", r(pa.Name))
		short := strings.TrimSpace(tidy(pa.ShortDesc))
		long := strings.TrimSpace(tidy(pa.LongDesc))
		if short != "" && !strings.HasPrefix(long, short) {
			b.WriteString(r(strings.TrimSuffix(short, ".")) + ".\n.br\n")
		}
		b.WriteString(strings.ReplaceAll(roff.Paragraphs(long), ".PP\n", ".IP\n"))
		fmt.Fprintf(&b, ".IP\n(%s)\n", r(paramFacts(pa)))
	}

	b.WriteString(".SH SUPPORTED ACTIONS\n")
	for _, a := range m.Actions {
		head := a.Name
		if a.Role != "" {
			head += " (role " + a.Role + ")"
		}
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", r(head), r(actionFacts(a)))
	}

	if len(p.Examples) > 0 {
		b.WriteString(".SH EXAMPLES\n")
		for _, ex := range p.Examples {
			fmt.Fprintf(&b, ".SS %s\n", r(ex.Title))
			if ex.Text != "" {
				b.WriteString(roff.Paragraphs(ex.Text))
			}
			b.WriteString(".PP\nWith\n.BR pcs (8):\n")
			b.WriteString(roff.Literal(ex.PCS))
			b.WriteString(".PP\nWith the crm shell,\n.BR crm (8):\n")
			b.WriteString(roff.Literal(ex.CRM))
		}
	}

	b.WriteString(".SH EXIT STATUS\n")
	b.WriteString("The OCF codes: 0 success, 1 generic error, 2 invalid argument, 3 unimplemented action, " +
		"5 not installed, 6 not configured, 7 not running, 8 running as promoted, 9 failed as promoted. " +
		"A failure prints the reason on an \\fBocf\\-exit\\-reason:\\fR line, which Pacemaker shows beside the failed action.\n")
	b.WriteString(".SH FILES\n")
	fmt.Fprintf(&b, ".TP\n.I /usr/lib/ocf/resource.d/%s/%s\na link to\n.IR /usr/sbin/paceline ,\nwhich acts as the agent it was called by\n", r(p.Provider), r(m.Name))
	b.WriteString(".SH SEE ALSO\n")
	refs := []string{"pcs (8)", "crm (8)", "crm_resource (8)", "fence_paceline_ipmilan (8)"}
	if up := upstreamManName(p.Replaces); up != "" {
		refs = append(refs, up+" (7)")
	}
	for i, ref := range refs {
		sep := ","
		if i == len(refs)-1 {
			sep = ""
		}
		f := strings.Fields(ref)
		fmt.Fprintf(&b, ".BR %s %s%s\n", r(f[0]), f[1], sep)
	}
	return []byte(b.String())
}

func actionNames(m ocf.Metadata) []string {
	var names []string
	for _, a := range m.Actions {
		if !slices.Contains(names, a.Name) {
			names = append(names, a.Name)
		}
	}
	return names
}

func paramFacts(p ocf.Parameter) string {
	var f []string
	if p.Unique {
		f = append(f, "unique")
	}
	if p.Required {
		f = append(f, "required")
	} else {
		f = append(f, "optional")
	}
	typ := p.Type
	if typ == "" {
		typ = ocf.TypeString
	}
	f = append(f, typ)
	if p.Default != "" {
		f = append(f, fmt.Sprintf("default %q", p.Default))
	} else if !p.Required {
		f = append(f, "no default")
	}
	return strings.Join(f, ", ")
}

func actionFacts(a ocf.ActionSpec) string {
	s := actionDoc(a.Name)
	s += " Default timeout: " + seconds(a.Timeout) + "."
	if a.Interval > 0 {
		s += " Suggested interval: " + seconds(a.Interval) + "."
	}
	if a.HasDepth {
		s += fmt.Sprintf(" Depth: %d.", a.Depth)
	}
	return strings.TrimSpace(s)
}

// actionDoc says what an OCF action does, for the man page.
func actionDoc(name string) string {
	switch name {
	case "start":
		return "Starts the resource on this node."
	case "stop":
		return "Stops the resource on this node."
	case "monitor":
		return "Checks the resource; with an interval of 0 it is a probe."
	case "status":
		return "The same as monitor, for old tools."
	case "promote":
		return "Promotes this instance."
	case "demote":
		return "Demotes this instance."
	case "notify":
		return "Receives the clone's pre and post notifications."
	case "reload":
		return "Applies changed parameters that need no restart."
	case "migrate_to":
		return "Migrates the resource live from this node to the target."
	case "migrate_from":
		return "Completes a live migration on the target node."
	case "meta-data":
		return "Prints the metadata XML."
	case "validate-all":
		return "Checks the parameters without changing anything."
	}
	return ""
}

// upstreamManName is the man page of the agent p replaces, when it is an
// OCF agent ("ocf:heartbeat:IPaddr2" -> "ocf_heartbeat_IPaddr2").
func upstreamManName(replaces string) string {
	f := strings.Split(replaces, ":")
	// resource-agents ships pages for its heartbeat agents; drbd-utils
	// none for ocf:linbit:drbd.
	if len(f) != 3 || f[0] != "ocf" || f[1] != "heartbeat" {
		return ""
	}
	return ManName(f[1], f[2])
}
