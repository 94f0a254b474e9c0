//go:build !cgo

package virtualdomain

import (
	"context"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// DelegateTo is the program this build hands libvirt actions to. A build
// without cgo cannot talk to libvirt through its library: it runs what
// needs none (see WithoutLibvirt) and hands everything else to
// paceline-libvirt, the cgo build.
const DelegateTo = Companion

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
