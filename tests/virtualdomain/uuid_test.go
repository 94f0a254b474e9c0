//go:build system

package virtualdomain_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/guestimage"
	h "github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
)

func domuuid(t *testing.T, host *libvirthost.Host, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := host.VirshCommand(ctx, "domuuid", name).CombinedOutput()
	if err != nil {
		t.Fatalf("virsh domuuid %s: %v\n%s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestStartWhateverUUID: start works whatever uuid the config has and
// whatever libvirt knows already under the domain's name. A config
// without a uuid (libvirt makes one up at every define) starts again
// after a stop on the same node, keeping the uuid libvirt has; a domain
// an administrator defined under another uuid is replaced by the
// config's, as the stock agent replaces any definition.
func TestStartWhateverUUID(t *testing.T) {
	host, a, name := startedGuest(t, guestimage.Domain{NoUUID: true})
	first := domuuid(t, host, name)
	h.Expect(t, a.Call(t, "stop", h.Timeout(60*time.Second)), ocf.Success, "")
	if p := persistent(host, name); p != "yes" {
		t.Fatalf("after stop Persistent = %q: the second start would not meet the definition", p)
	}
	h.Expect(t, a.Call(t, "start", h.Timeout(90*time.Second)), ocf.Success, "")
	expectState(t, host, name, "running", "the second start")
	if u := domuuid(t, host, name); u != first {
		t.Errorf("the second start changed the domain's uuid from %s to %s", first, u)
	}
	h.Expect(t, a.Call(t, "monitor", h.Interval(10*time.Second)), ocf.Success, "")
	h.Expect(t, a.Call(t, "stop", h.Timeout(60*time.Second), h.Param("force_stop", "true")), ocf.Success, "")

	// Defined earlier under another uuid (inactive): the config's uuid
	// wins, and the config file is still there.
	img := guestimage.Tiny(t)
	const theirs = "0a1b2c3d-0000-4000-8000-0000000000aa"
	const ours = "0a1b2c3d-0000-4000-8000-0000000000bb"
	admin := filepath.Join(t.TempDir(), "admin.xml")
	if err := os.WriteFile(admin, []byte(img.DomainXML(guestimage.Domain{Name: name, UUID: theirs})), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := a.Params["config"]
	if err := os.WriteFile(cfg, []byte(img.DomainXML(guestimage.Domain{Name: name, UUID: ours})), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := host.VirshCommand(ctx, "undefine", name).CombinedOutput(); err != nil {
		t.Fatalf("virsh undefine: %v\n%s", err, out)
	}
	if out, err := host.VirshCommand(ctx, "define", admin).CombinedOutput(); err != nil {
		t.Fatalf("virsh define: %v\n%s", err, out)
	}
	h.Expect(t, a.Call(t, "start", h.Timeout(90*time.Second)), ocf.Success, "")
	if u := domuuid(t, host, name); u != ours {
		t.Errorf("after start over a definition with uuid %s the domain has %s, want the config's %s", theirs, u, ours)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Errorf("the config file: %v", err)
	}
	h.Expect(t, a.Call(t, "stop", h.Timeout(60*time.Second), h.Param("force_stop", "true")), ocf.Success, "")
}
