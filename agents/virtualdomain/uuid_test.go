//go:build cgo

package virtualdomain

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

func TestDomainUUID(t *testing.T) {
	tests := []struct {
		doc, want string
		ok        bool
	}{
		{"<domain><name>vm1</name><uuid> 0a1b2c3d-0000-4000-8000-00000000000a </uuid></domain>", "0a1b2c3d-0000-4000-8000-00000000000a", true},
		{"<domain><name>vm1</name></domain>", "", true},
		{"<domain><metadata><uuid>inner</uuid></metadata><name>vm1</name></domain>", "", true},
		{"<network><uuid>x</uuid></network>", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := DomainUUID([]byte(tt.doc))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("DomainUUID(%q) = %q, %v, want %q (ok %v)", tt.doc, got, err, tt.want, tt.ok)
		}
	}
}

func TestWithUUID(t *testing.T) {
	const id = "0a1b2c3d-0000-4000-8000-00000000000a"
	doc := "<?xml version='1.0'?>\n<!-- a <domain> in a comment -->\n<domain type='qemu'>\n  <name>vm1</name>\n  <memory>65536</memory>\n</domain>\n"
	got, err := WithUUID([]byte(doc), id)
	if err != nil {
		t.Fatalf("WithUUID: %v", err)
	}
	want := "<?xml version='1.0'?>\n<!-- a <domain> in a comment -->\n<domain type='qemu'>\n  <uuid>" + id + "</uuid>\n  <name>vm1</name>\n  <memory>65536</memory>\n</domain>\n"
	if string(got) != want {
		t.Errorf("WithUUID =\n%s\nwant\n%s", got, want)
	}
	if u, err := DomainUUID(got); err != nil || u != id {
		t.Errorf("DomainUUID(WithUUID(doc)) = %q, %v", u, err)
	}
	if n, err := DomainName(got); err != nil || n != "vm1" {
		t.Errorf("DomainName(WithUUID(doc)) = %q, %v", n, err)
	}
	if _, err := WithUUID(got, id); err == nil {
		t.Errorf("WithUUID of a document with a uuid: no error")
	}
	if _, err := WithUUID([]byte("<network/>"), id); err == nil {
		t.Errorf("WithUUID of a network: no error")
	}
}

func TestSameUUID(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"0a1b2c3d-0000-4000-8000-00000000000a", "0A1B2C3D00004000800000000000000A", true},
		{" 0a1b2c3d-0000-4000-8000-00000000000a", "0a1b2c3d-0000-4000-8000-00000000000a", true},
		{"0a1b2c3d-0000-4000-8000-00000000000a", "0a1b2c3d-0000-4000-8000-00000000000b", false},
	} {
		if got := SameUUID(tt.a, tt.b); got != tt.want {
			t.Errorf("SameUUID(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDefinition(t *testing.T) {
	const have = "11111111-2222-4333-8444-555555555555"
	existing := "<domain type='qemu'><name>vm1</name><uuid>" + have + "</uuid></domain>"
	tests := []struct {
		name        string
		config      string
		undefineErr error
		wantUUID    string // of the XML to define
		undefined   bool
		code        ocf.Status
	}{
		{"no uuid: the defined domain's", "<domain type='qemu'><name>vm1</name></domain>", nil, have, false, ocf.Success},
		{"the same uuid, written otherwise", "<domain><name>vm1</name><uuid>" + strings.ToUpper(strings.ReplaceAll(have, "-", "")) + "</uuid></domain>", nil,
			strings.ToUpper(strings.ReplaceAll(have, "-", "")), false, ocf.Success},
		{"another uuid: the old definition goes", "<domain><name>vm1</name><uuid>99999999-2222-4333-8444-555555555555</uuid></domain>", nil,
			"99999999-2222-4333-8444-555555555555", true, ocf.Success},
		{"another uuid, undefine refused", "<domain><name>vm1</name><uuid>99999999-2222-4333-8444-555555555555</uuid></domain>",
			errors.New("cannot undefine domain with 1 snapshots"), "", false, ocf.ErrGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newFakeHV().add("vm1", have, ShutOff)
			d.xml, d.undefineErr = existing, tt.undefineErr
			a := &action{r: request(t, "start", nil), cfg: &Config{File: "/nonexistent/vm1.xml"}, name: "vm1", doc: []byte(tt.config)}
			doc, err := a.definition(context.Background(), d)
			if got := ocf.CodeOf(err); got != tt.code {
				t.Fatalf("definition() error %v (%s), want %s", err, got, tt.code)
			}
			if undefined := d.state == Undefined; undefined != tt.undefined {
				t.Errorf("definition() undefined the old domain: %v, want %v", undefined, tt.undefined)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "snapshots") {
					t.Errorf("definition() error %q does not say why", err)
				}
				return
			}
			if u, _ := DomainUUID(doc); u != tt.wantUUID {
				t.Errorf("definition() defines uuid %q, want %q\n%s", u, tt.wantUUID, doc)
			}
		})
	}
	// No domain of that name: the config as it is.
	a := &action{r: request(t, "start", nil), cfg: &Config{}, name: "vm1", doc: []byte("<domain><name>vm1</name></domain>")}
	if doc, err := a.definition(context.Background(), nil); err != nil || string(doc) != string(a.doc) {
		t.Errorf("definition(no domain) = %q, %v", doc, err)
	}
}
