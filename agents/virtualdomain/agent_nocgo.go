//go:build !cgo

package virtualdomain

import (
	"context"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// HasLibvirt tells whether this build can talk to libvirt. A build without
// cgo cannot; the paceline command hands VirtualDomain's actions to the
// libvirt build of itself (see main.go), so these handlers only answer
// when that build is missing.
const HasLibvirt = false

// Agent returns the OCF agent of a build without libvirt: it serves the
// metadata and says what is missing for everything else.
func Agent() *ocf.Agent {
	missing := func(context.Context, *ocf.Request) error {
		return ocf.NotInstalled("this paceline was built without libvirt and its libvirt part (paceline-libvirt) is not installed")
	}
	h := map[string]ocf.Handler{}
	for _, a := range Metadata().Actions {
		if a.Name != "meta-data" && a.Name != "status" {
			h[a.Name] = missing
		}
	}
	return &ocf.Agent{Meta: Metadata(), Handlers: h}
}
