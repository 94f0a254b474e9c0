package fence

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/paceline-ha/paceline/pkg/roff"
)

func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// RenderMetadata renders the fence-agents metadata document (the format
// of fence-agents' lib/metadata.rng, as fencing.py prints it): every
// option, each deprecated alias as a parameter of its own marked
// deprecated, and the advertised actions.
func (a *Agent) RenderMetadata() []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" ?>\n")
	fmt.Fprintf(&b, "<resource-agent name=\"%s\" shortdesc=\"%s\" >\n", esc(a.Name), esc(a.ShortDesc))
	for _, s := range a.Symlinks {
		if s.Name == a.Name {
			continue
		}
		fmt.Fprintf(&b, "<symlink name=\"%s\" shortdesc=\"%s\"/>\n", esc(s.Name), esc(s.ShortDesc))
	}
	fmt.Fprintf(&b, "<longdesc>%s</longdesc>\n", esc(a.LongDesc))
	fmt.Fprintf(&b, "<vendor-url>%s</vendor-url>\n", esc(a.VendorURL))
	b.WriteString("<parameters>\n")
	for i := range a.Options {
		op := &a.Options[i]
		extra := ""
		if len(op.Aliases) > 0 {
			extra = fmt.Sprintf(" obsoletes=\"%s\"", esc(op.Aliases[0]))
		}
		writeParam(&b, op, op.Name, extra)
		for _, al := range op.Aliases {
			writeParam(&b, op, al, " deprecated=\"1\"")
		}
	}
	b.WriteString("</parameters>\n<actions>\n")
	for _, ac := range a.Actions {
		if ac.HasAuto {
			auto := "0"
			if ac.Automatic {
				auto = "1"
			}
			fmt.Fprintf(&b, "\t<action name=\"%s\" automatic=\"%s\"/>\n", esc(ac.Name), auto)
			continue
		}
		fmt.Fprintf(&b, "\t<action name=\"%s\" />\n", esc(ac.Name))
	}
	b.WriteString("</actions>\n</resource-agent>\n")
	return []byte(b.String())
}

func writeParam(b *strings.Builder, op *Option, name, extra string) {
	req := "0"
	if op.Required {
		req = "1"
	}
	fmt.Fprintf(b, "\t<parameter name=\"%s\" unique=\"0\" required=\"%s\"%s>\n", esc(name), req, extra)
	fmt.Fprintf(b, "\t\t<getopt mixed=\"%s\" />\n", esc(op.Getopt()))
	def := ""
	if op.Default != "" {
		def = fmt.Sprintf(" default=\"%s\"", esc(op.Default))
	}
	if op.Type == Select {
		fmt.Fprintf(b, "\t\t<content type=\"select\"%s >\n", def)
		for _, c := range op.Choices {
			fmt.Fprintf(b, "\t\t\t<option value=\"%s\" />\n", esc(c))
		}
		b.WriteString("\t\t</content>\n")
	} else {
		fmt.Fprintf(b, "\t\t<content type=\"%s\"%s />\n", op.Type, def)
	}
	fmt.Fprintf(b, "\t\t<shortdesc lang=\"en\">%s</shortdesc>\n", esc(op.ShortDesc))
	b.WriteString("\t</parameter>\n")
}

// RenderManpage renders a man page (section 8) from the same definitions.
func (a *Agent) RenderManpage() []byte {
	var b strings.Builder
	r := roff.Escape
	fmt.Fprintf(&b, ".TH %s 8 \"%s\" \"%s\" \"System Administration\"\n", strings.ToUpper(a.Name), roff.Arg(a.Date), roff.Arg("paceline "+a.Version))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", r(a.Name), r(a.ShortDesc))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n[\\fIOPTIONS\\fR]\n.br\n.B %s\n< \\fIkey=value lines\\fR\n", r(a.Name), r(a.Name))
	fmt.Fprintf(&b, ".SH DESCRIPTION\n%s\n", r(a.LongDesc))
	b.WriteString(".PP\nWith arguments, options are read from the command line; without, from stdin as one\n.I key=value\nper line, which is how pacemaker-fenced calls fence agents.\n")
	if len(a.Symlinks) > 0 {
		b.WriteString(".PP\nThe same agent is installed under these names:\n")
		for _, s := range a.Symlinks {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s", r(s.Name), r(s.ShortDesc))
			for _, k := range sortedKeys(s.Defaults) {
				fmt.Fprintf(&b, " (%s=%s)", r(k), r(s.Defaults[k]))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(".SH OPTIONS\n")
	for i := range a.Options {
		op := &a.Options[i]
		head := op.Getopt()
		if head == "" {
			head = op.Name
		}
		fmt.Fprintf(&b, ".TP\n.B %s\n%s", r(head), r(op.ShortDesc))
		if op.Type == Select {
			fmt.Fprintf(&b, " One of: %s.", r(strings.Join(op.Choices, ", ")))
		}
		if op.Default != "" {
			fmt.Fprintf(&b, " (Default: %s)", r(op.Default))
		}
		names := append([]string{op.Name}, op.Aliases...)
		fmt.Fprintf(&b, "\n.br\nstdin: %s\n", r(strings.Join(names, ", ")))
	}
	b.WriteString(".SH ACTIONS\n")
	for _, ac := range a.Actions {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", r(ac.Name), r(actionDoc(ac.Name)))
	}
	b.WriteString(".SH EXIT STATUS\n0 on success; 1 on failure; the status action exits 2 when the machine is off.\n")
	b.WriteString(".SH EXAMPLES\n.nf\n")
	for _, ex := range []string{
		a.Name + ` -a 192.0.2.10 -l admin -S "cat /etc/cluster/bmc-pass" -P -C 3 -o status`,
		"pcs stonith create fence-node1 " + a.Name + " ip=192.0.2.10 username=admin \\",
		"    password=secret lanplus=1 cipher=3 pcmk_host_list=node1",
		"crm configure primitive fence-node1 stonith:" + a.Name + " params ip=192.0.2.10 \\",
		"    username=admin password=secret lanplus=1 cipher=3 pcmk_host_list=node1",
	} {
		b.WriteString(r(ex) + "\n")
	}
	b.WriteString(".fi\n")
	return []byte(b.String())
}

// actionDoc describes an action for the man page. (Functions, not package
// maps: nothing may cost work at every agent process's start.)
func actionDoc(name string) string {
	switch name {
	case "on":
		return "Power the machine on."
	case "off":
		return "Power the machine off and wait until it is off."
	case "reboot":
		return "Power off and on again (method onoff), or power cycle (method cycle); succeeds once the machine was seen off."
	case "status":
		return "Print the power status; exit 0 when on, 2 when off, 1 on error."
	case "monitor":
		return "Check that the BMC answers with these credentials."
	case "metadata":
		return "Print the metadata XML."
	case "manpage":
		return "Print this manual page."
	case "validate-all":
		return "Check the options without contacting the BMC."
	case "diag":
		return "Send a diagnostic interrupt (NMI), which makes many kernels dump and reboot."
	}
	return ""
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
