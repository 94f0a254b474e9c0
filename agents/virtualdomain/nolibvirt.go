//go:build !cgo

package virtualdomain

import (
	"context"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// This build (paceline, static) has no libvirt client. main.go hands the
// actions that need one to Companion before they start (see connect.go);
// a monitor whose daemon turns out to need libvirt's client is handed
// over from here, and fails with OCF_ERR_INSTALLED when Companion is not
// installed.
const delegateTo = Companion

func dialLibvirt(context.Context, string, bool) (Hypervisor, error) {
	return nil, ocf.Handoff(Companion,
		ocf.NotInstalled("this action needs libvirt, and paceline's libvirt part (%s) is not installed", Companion))
}

func startResources(context.Context, Hypervisor, []byte) error {
	return ocf.NotInstalled("start_resources needs %s", Companion)
}
