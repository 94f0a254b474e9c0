package roff

import "testing"

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"--ip=a-b", `\-\-ip=a\-b`},
		{`C:\path`, `C:\epath`},
		{".starts with a dot\n'and a quote", "\\&.starts with a dot\n\\&'and a quote"},
		{"a.b 'c'", "a.b 'c'"},
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParagraphs(t *testing.T) {
	in := `First line
		continues here.

		- not an item,
		a continuation

		.dot`
	want := "First line\ncontinues here.\n.PP\n\\- not an item,\na continuation\n.PP\n\\&.dot\n"
	if got := Paragraphs(in); got != want {
		t.Errorf("Paragraphs = %q, want %q", got, want)
	}
	if got := Paragraphs("  \n\n "); got != "" {
		t.Errorf("Paragraphs(blank) = %q, want empty", got)
	}
}

func TestLiteral(t *testing.T) {
	want := ".PP\n.RS 4\n.nf\npcs resource create x \\e\n    ip=192.0.2.1\n.fi\n.RE\n"
	if got := Literal("pcs resource create x \\\n    ip=192.0.2.1\n"); got != want {
		t.Errorf("Literal = %q, want %q", got, want)
	}
}

func TestArg(t *testing.T) {
	if got, want := Arg(`say "hi" \ 2026-11-24`), `say \(dqhi\(dq \e 2026-11-24`; got != want {
		t.Errorf("Arg = %q, want %q", got, want)
	}
}
