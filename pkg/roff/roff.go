package roff

import "strings"

// Escape makes plain text safe as roff input: backslashes print as
// themselves, hyphens are real minus signs (so options can be copied
// from the page), and a line that would start with a control character
// is protected.
func Escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

// Paragraphs turns a description as the metadata holds it (lines
// indented as in Go source, blank lines between paragraphs) into roff:
// each paragraph is filled text after a .PP, except the first, which
// follows the current heading directly.
func Paragraphs(s string) string {
	var b strings.Builder
	first := true
	for _, para := range split(s) {
		if !first {
			b.WriteString(".PP\n")
		}
		first = false
		for _, l := range para {
			b.WriteString(Escape(l))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// split returns the paragraphs of s, each as its trimmed, non-empty lines.
func split(s string) [][]string {
	var paras [][]string
	var cur []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			if len(cur) > 0 {
				paras = append(paras, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		paras = append(paras, cur)
	}
	return paras
}

// Literal renders lines as an unfilled block, indented, for commands
// a reader copies.
func Literal(lines string) string {
	var b strings.Builder
	b.WriteString(".PP\n.RS 4\n.nf\n")
	for _, l := range strings.Split(strings.TrimRight(lines, "\n"), "\n") {
		b.WriteString(Escape(l))
		b.WriteByte('\n')
	}
	b.WriteString(".fi\n.RE\n")
	return b.String()
}

// Arg makes s safe inside a double-quoted macro argument (a date, a
// version): backslashes print as themselves, and a double quote, which
// would end the argument, is written as the \(dq glyph.
func Arg(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\e`), `"`, `\(dq`)
}
