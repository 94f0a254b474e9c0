package docblocks

import (
	"reflect"
	"regexp"
	"testing"
)

func TestLabels(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Version
	}{
		{"# pcs 0.12 (Debian 13):", []Version{{"pcs", "0.12"}}},
		{"pcs (0.11 and 0.12):", []Version{{"pcs", "0.11"}, {"pcs", "0.12"}}},
		{"With pcs 0.11.5, or crmsh 4.4/5.0:", []Version{{"pcs", "0.11"}, {"crmsh", "4.4"}, {"crmsh", "5.0"}}},
		{"With pcs:", nil},
		{"crm shell:", nil},
	} {
		if got := Labels(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Labels(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

const page = "Intro.\n" + // 1
	"\n" + // 2
	"```\n" + // 3
	"pcs resource create a ocf:paceline:IPaddr2 ip=192.0.2.1\n" + // 4
	"\n" + // 5
	"# pcs 0.11 (Debian 12):\n" + // 6
	"pcs resource create b ocf:paceline:drbd \\\n" + // 7
	"    promotable promoted-max=1\n" + // 8
	"# pcs 0.12 (Debian 13):\n" + // 9
	"pcs resource create --future b ocf:paceline:drbd \\\n" + // 10
	"    promotable meta promoted-max=1\n" + // 11
	"\n" + // 12
	"pcs constraint order promote b-clone then start a\n" + // 13
	"```\n" + // 14
	"\n" + // 15
	"With crmsh 5.0:\n" + // 16
	"\n" + // 17
	"```\n" + // 18
	"crm configure primitive c ocf:paceline:IPaddr2 params ip=192.0.2.3\n" + // 19
	"```\n" + // 20
	"\n" + // 21
	"```\n" + // 22
	"# nothing to run\n" + // 23
	"```\n" // 24

func TestMarkdown(t *testing.T) {
	blocks := Markdown("page.md", page)
	if len(blocks) != 2 {
		t.Fatalf("%d blocks, want 2: %+v", len(blocks), blocks)
	}
	b := blocks[0]
	if b.Line != 3 || len(b.Commands) != 4 {
		t.Fatalf("first block at line %d with %d commands, want 3 and 4: %+v", b.Line, len(b.Commands), b)
	}
	p11, p12 := Version{"pcs", "0.11"}, Version{"pcs", "0.12"}
	c44 := Version{"crmsh", "4.4"}
	for i, want := range []struct {
		line         int
		for11, for12 bool
	}{{4, true, true}, {7, true, false}, {10, false, true}, {13, true, true}} {
		c := b.Commands[i]
		if c.Line != want.line || c.For(p11, c44) != want.for11 || c.For(p12, c44) != want.for12 {
			t.Errorf("command %d (%q, line %d, only %v): want line %d, for 0.11 %v, for 0.12 %v",
				i, c.Text, c.Line, c.Only, want.line, want.for11, want.for12)
		}
	}
	if got := b.Commands[1].Raw; got != "pcs resource create b ocf:paceline:drbd \\\n    promotable promoted-max=1" {
		t.Errorf("Raw = %q", got)
	}
	if got := b.Commands[1].Text; got != "pcs resource create b ocf:paceline:drbd  promotable promoted-max=1" {
		t.Errorf("Text = %q", got)
	}
	c := blocks[1].Commands[0]
	if c.Line != 19 || c.For(p11, c44) || !c.For(p11, Version{"crmsh", "5.0"}) || c.Mislabelled() {
		t.Errorf("a block labelled for crmsh 5.0: %+v", c)
	}
}

func TestMislabelled(t *testing.T) {
	b := Script("x", 1, "# crmsh 5.0:\npcs resource create a ocf:paceline:IPaddr2 ip=192.0.2.1\ncibadmin --query")
	if !b.Commands[0].Mislabelled() {
		t.Errorf("a pcs command labelled for crmsh only is not reported")
	}
	if b.Commands[1].Mislabelled() || b.Commands[1].For(Version{"crmsh", "4.4"}) || !b.Commands[1].For(Version{"crmsh", "5.0"}) {
		t.Errorf("cibadmin under a crmsh 5.0 label: %+v", b.Commands[1])
	}
}

func TestFind(t *testing.T) {
	re := regexp.MustCompile(`\bpcs\s+resource\s+create\s`)
	text := "Run `pcs resource create x ocf:paceline:IPaddr2 ip=192.0.2.9` first.\n" +
		"pcs resource create y ocf:paceline:IPaddr2 \\\n    ip=192.0.2.8\n"
	got := Find("f", text, re)
	if len(got) != 2 || got[0].Text != "pcs resource create x ocf:paceline:IPaddr2 ip=192.0.2.9" ||
		got[1].Line != 2 || got[1].Text != "pcs resource create y ocf:paceline:IPaddr2  ip=192.0.2.8" {
		t.Errorf("Find = %+v", got)
	}
}

func TestWords(t *testing.T) {
	got, err := Words(`pcs stonith create f x password_script="/bin/pw node1" a='b c' # comment`)
	want := []string{"pcs", "stonith", "create", "f", "x", "password_script=/bin/pw node1", "a=b c"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Words = %q, %v; want %q", got, err, want)
	}
	if _, err := Words(`a "b`); err == nil {
		t.Errorf("an unterminated quote is not an error")
	}
}
