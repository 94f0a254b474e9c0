//go:build !ipmi

package fenceipmilan

import (
	"fmt"

	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// DelegateTo is the build that speaks IPMI itself (see the package doc).
const DelegateTo = "paceline-fence"

func newNative(Config, string, *ocf.Logger) (fence.Device, error) {
	return nil, fmt.Errorf("this paceline build has no IPMI client and %s is not installed beside it (or in ../libexec/paceline)", DelegateTo)
}
