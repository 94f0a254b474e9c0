//go:build !cgo

package virtualdomain

import (
	"context"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// HasLibvirt tells whether this build can talk to libvirt. A build without
// cgo cannot: it runs what needs no libvirt library (see WithoutLibvirt)
// and hands everything else to paceline-libvirt, the cgo build.
const HasLibvirt = false

// Companion is the cgo build of paceline that runs libvirt actions.
const Companion = "paceline-libvirt"

// Dial hands the action to paceline-libvirt, which replaces this process;
// it returns only when that program is not installed.
func Dial(context.Context, string, bool) (Hypervisor, error) {
	ocf.Delegate("VirtualDomain", Companion)
	return nil, ocf.NotInstalled("this action needs libvirt, and paceline's libvirt part (%s) is not installed", Companion)
}

func startResources(context.Context, Hypervisor, []byte) error {
	return ocf.NotInstalled("start_resources needs %s", Companion)
}
