//go:build !cgo

package virtualdomain

import (
	"context"
	"testing"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// The static build reached for an action that needs libvirt (Companion
// missing, or a monitor's daemon that wants authentication after all)
// hands the action over (ocf.Handoff), and, Companion missing, fails with
// OCF_ERR_INSTALLED and says why.
func TestStaticBuildNeedsCompanion(t *testing.T) {
	const reason = "this action needs libvirt, and paceline's libvirt part (paceline-libvirt) is not installed"
	sasl := startFakeDaemon(t, false, authSASL)
	for _, c := range []actionCase{
		{action: "start", params: map[string]string{"hypervisor": "qemu:///system"}},
		{action: "stop"},
		{action: "monitor", params: map[string]string{"hypervisor": "qemu+ssh://node2/system"}},
		{action: "monitor", params: map[string]string{"hypervisor": sasl.uri}},
	} {
		c.config = domainXML(uuid1)
		act := map[string]func(ctx context.Context, a *action) error{"start": start, "stop": stop, "monitor": monitor}[c.action]
		_, err := runOn(t, nil, c, act)
		checkResult(t, err, ocf.ErrInstalled, reason)
		if err == nil || !ocf.IsHandoff(err, Companion) {
			t.Errorf("%s: %v is not a hand-over to %s", c.action, err, Companion)
		}
	}
	if DelegateTo != Companion {
		t.Errorf("DelegateTo = %q, want %q", DelegateTo, Companion)
	}
}
