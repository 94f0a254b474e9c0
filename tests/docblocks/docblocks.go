// Package docblocks reads the shell commands the documentation shows:
// the fenced code blocks of the Markdown pages and the pcs and crm parts
// of the man pages' worked examples. agents/docs_test.go checks the
// commands' parameters against the agents' metadata with it, and the
// tests/doccmds tier runs them through the real pcs and crm.
//
// A command may be meant for some releases of its tool only. A comment
// line in a block names them ("# pcs 0.12 (Debian 13):") and applies to
// the commands after it, up to the next such comment, the next blank line
// or the end of the block; a paragraph line ending in a colon just before
// a block ("With pcs 0.11:") applies to the whole block. A command that
// no label limits is meant for every release. Labels name pcs by "pcs"
// and the crm shell by "crmsh", each with one or more releases' first
// two numbers ("pcs 0.11", "crmsh 4.4 and 5.0").
//
// The package imports nothing of the project, so that the agents' own
// tests can use it.
package docblocks

import (
	"fmt"
	"regexp"
	"strings"
)

// Version is a release of a tool, as labels name it: Tool is "pcs" or
// "crmsh", Release the first two numbers ("0.12", "5.0").
type Version struct {
	Tool    string
	Release string
}

func (v Version) String() string { return v.Tool + " " + v.Release }

// Command is one command of a document.
type Command struct {
	File string
	Line int    // where it starts, from 1
	Raw  string // as written, continuation lines included
	Text string // continuation lines joined into one line
	// Only lists the releases a label limits the command to; empty, it
	// is meant for every release.
	Only []Version
}

// Program returns the command's first word: "pcs", "crm", "cibadmin"...
func (c Command) Program() string {
	f := strings.Fields(c.Text)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// ToolName returns the name labels give the tool a program belongs to
// ("crmsh" for crm), or "" when labels do not name it.
func ToolName(program string) string {
	switch program {
	case "pcs":
		return "pcs"
	case "crm":
		return "crmsh"
	}
	return ""
}

// For reports whether the command is meant for a machine with these
// releases of the tools (one per tool). A pcs or crm command is, unless a
// label limits it to other releases of its own tool; any other command
// (cibadmin, crm_resource...) is unless its labels name none of them.
func (c Command) For(have ...Version) bool {
	tool := ToolName(c.Program())
	limited := false
	for _, o := range c.Only {
		if tool != "" && o.Tool != tool {
			continue
		}
		limited = true
		for _, h := range have {
			if o == h {
				return true
			}
		}
	}
	return !limited
}

// Mislabelled reports whether a label limits a pcs or crm command to
// releases of the other tool only, which is a mistake in the docs.
func (c Command) Mislabelled() bool {
	tool := ToolName(c.Program())
	if tool == "" || len(c.Only) == 0 {
		return false
	}
	for _, o := range c.Only {
		if o.Tool == tool {
			return false
		}
	}
	return true
}

// Block is the commands of one fenced code block, or of one part of a
// man page example: a sequence run in order, later commands using what
// earlier ones made.
type Block struct {
	File     string
	Line     int // the opening fence's line, or the part's first line
	Commands []Command
}

// labelRE finds the releases a label names: a tool and one release or a
// list of them ("pcs 0.12", "crmsh 4.4 and 5.0", "pcs (0.11/0.12)").
var labelRE = regexp.MustCompile(`\b(pcs|crmsh)\s+\(?(\d+\.\d+[.\d]*(?:\s*(?:,|/|and|or)\s*\d+\.\d+[.\d]*)*)`)

// releaseRE finds one release in such a list: its first two numbers.
var releaseRE = regexp.MustCompile(`(\d+)\.(\d+)[.\d]*`)

// Labels returns the releases a line names, in order.
func Labels(s string) []Version {
	var out []Version
	for _, m := range labelRE.FindAllStringSubmatch(s, -1) {
		for _, r := range releaseRE.FindAllStringSubmatch(m[2], -1) {
			out = append(out, Version{Tool: m[1], Release: r[1] + "." + r[2]})
		}
	}
	return out
}

// Markdown returns the fenced code blocks of a Markdown text, each with
// its commands; a block without a command is left out.
func Markdown(file, text string) []Block {
	lines := strings.Split(text, "\n")
	var out []Block
	for i := 0; i < len(lines); i++ {
		fence, ok := openingFence(lines[i])
		if !ok {
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), fence); i++ {
			body = append(body, lines[i])
		}
		b := Script(file, start+2, strings.Join(body, "\n"))
		b.Line = start + 1
		if whole := blockLabel(lines[:start]); len(whole) > 0 {
			for k := range b.Commands {
				if len(b.Commands[k].Only) == 0 {
					b.Commands[k].Only = whole
				}
			}
		}
		if len(b.Commands) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// openingFence returns the fence (``` or ~~~) a line opens a block with.
func openingFence(line string) (string, bool) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return "", false
	}
	for _, f := range []string{"```", "~~~"} {
		if strings.HasPrefix(t, f) {
			return f, true
		}
	}
	return "", false
}

// blockLabel returns the releases named by the paragraph line just before
// a block, when that line ends in a colon.
func blockLabel(before []string) []Version {
	for k := len(before) - 1; k >= 0; k-- {
		l := strings.TrimSpace(before[k])
		if l == "" {
			continue
		}
		if strings.HasSuffix(l, ":") {
			return Labels(l)
		}
		return nil
	}
	return nil
}

// Script returns the commands of a shell text whose first line is line
// first of file: one command per line, a line ending in a backslash
// continuing on the next. Comments and blank lines are no commands; a
// comment naming releases labels the commands after it.
func Script(file string, first int, text string) Block {
	b := Block{File: file, Line: first}
	lines := strings.Split(text, "\n")
	var label []Version
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case l == "":
			label = nil
			continue
		case strings.HasPrefix(l, "#"):
			if v := Labels(l); len(v) > 0 {
				label = v
			}
			continue
		}
		start := i
		raw := []string{strings.TrimRight(lines[i], " \t\r")}
		joined := strings.TrimSpace(raw[0])
		for strings.HasSuffix(joined, `\`) && i+1 < len(lines) {
			i++
			raw = append(raw, strings.TrimRight(lines[i], " \t\r"))
			joined = strings.TrimSuffix(joined, `\`) + " " + strings.TrimSpace(lines[i])
		}
		b.Commands = append(b.Commands, Command{
			File: file, Line: first + start, Raw: strings.Join(raw, "\n"),
			Text: strings.TrimSpace(joined), Only: label,
		})
	}
	return b
}

// Find returns every command of a text, in prose or in a block, that re
// finds: a line ending in a backslash continues on the next one, and a
// command shown inline in prose ends at the closing backtick.
func Find(file, text string, re *regexp.Regexp) []Command {
	var out []Command
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		start := i
		joined := strings.TrimRight(lines[i], " \t\r")
		for strings.HasSuffix(joined, `\`) && i+1 < len(lines) {
			i++
			joined = strings.TrimSuffix(joined, `\`) + " " + strings.TrimSpace(lines[i])
		}
		locs := re.FindAllStringIndex(joined, -1)
		for k, loc := range locs {
			cmd := joined[loc[0]:]
			if k+1 < len(locs) {
				cmd = joined[loc[0]:locs[k+1][0]]
			}
			if j := strings.IndexByte(cmd, '`'); j >= 0 {
				cmd = cmd[:j]
			}
			out = append(out, Command{File: file, Line: start + 1, Text: strings.TrimSpace(cmd)})
		}
	}
	return out
}

// Words splits a command as a shell would for the quoting the docs use:
// blanks separate words, single and double quotes group, a word starting
// with # begins a comment.
func Words(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			return words, nil
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
