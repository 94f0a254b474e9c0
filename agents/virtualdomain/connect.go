package virtualdomain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Which program runs an action, and over which connection.
//
// libvirt's client library needs cgo, and a binary with cgo costs every
// process more at start, so paceline is static and has no libvirt client.
// Its cgo build, Companion, has one. main.go asks WithoutLibvirt (through
// the registry's RunsHere) before the action starts and hands the actions
// it does not take to Companion (ocf.Delegate). The one thing the URI
// cannot tell beforehand is whether the daemon lets the monitor's fast
// path in: when it does not (modular daemons, authentication), the static
// build's monitor hands itself over through ocf.Handoff, the same
// mechanism (dialLibvirt in nolibvirt.go), and Companion runs it.

// Companion is the cgo build of paceline, which runs the actions that
// need the libvirt library.
const Companion = "paceline-libvirt"

// DelegateTo is the program the registry hands the actions WithoutLibvirt
// does not take to: Companion from a build without a libvirt client, none
// from Companion itself.
const DelegateTo = delegateTo

// WithoutLibvirt tells whether an action with this hypervisor URI runs
// without the libvirt library: meta-data and validate-all, and monitor
// when the URI is one the fast path (rpc.go) speaks to.
func WithoutLibvirt(action, hypervisor string) bool {
	switch action {
	case "meta-data", "validate-all", "usage", "help", "methods":
		return true
	case "monitor", "status":
		_, _, _, ok := rpcTarget(hypervisor)
		return ok
	}
	return false
}

// connect opens the action's connection: the fast path for a monitor
// when the daemon lets it in, else libvirt's client.
func connect(ctx context.Context, r *ocf.Request, uri string) (Hypervisor, error) {
	var hv Hypervisor
	var err error
	if r.Action == "monitor" || r.Action == "status" {
		hv, err = fastPath(ctx, uri, r.Log)
		if hv != nil {
			r.Log.Debugf("monitor over libvirt's remote protocol (%s)", shown(uri))
		}
	}
	if hv == nil && err == nil {
		hv, err = dialLibvirt(ctx, uri, r.Action == "migrate_to")
	}
	if err == nil {
		return hv, nil
	}
	var hung *hungError
	switch {
	case ocf.CodeOf(err) == ocf.ErrInstalled:
		return nil, err
	case errors.As(err, &hung):
		return nil, ocf.Generic("%v: %s", err, shown(uri))
	}
	return nil, ocf.Generic("cannot connect to libvirt: %v (%s)", err, shown(uri))
}

// fastPath is the monitor's connection over libvirt's remote protocol
// (rpc.go). It returns nil and no error when only libvirt's client can
// reach the daemon.
func fastPath(ctx context.Context, uri string, log *ocf.Logger) (Hypervisor, error) {
	conn, err := dialFastPath(ctx, uri)
	var only *libvirtOnly
	if errors.As(err, &only) {
		if only.why != "" {
			log.Debugf("%s: using libvirt", only.why)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rpcHV{r: conn, uri: uri}, nil
}

// libvirtOnly is a URI or a daemon that only libvirt's client can talk
// to; why, when there is one, goes to the debug log.
type libvirtOnly struct{ why string }

func (e *libvirtOnly) Error() string { return "needs libvirt's client: " + e.why }

// dialFastPath opens the fast path's connection to uri, or returns a
// *libvirtOnly error: for a URI rpcTarget does not take, for the default
// socket of the monolithic libvirtd when it is absent (modular daemons
// such as virtqemud, whose sockets libvirt's client finds), and when the
// daemon refuses the protocol (authentication required).
func dialFastPath(ctx context.Context, uri string) (*rpcConn, error) {
	network, addr, name, ok := rpcTarget(uri)
	if !ok {
		return nil, &libvirtOnly{}
	}
	if network == "unix" && !strings.Contains(uri, "socket=") {
		if _, err := os.Stat(addr); err != nil {
			return nil, &libvirtOnly{why: "no " + addr}
		}
	}
	conn, err := dialRPC(ctx, network, addr, name)
	var refused *rpcErr
	if errors.As(err, &refused) {
		return nil, &libvirtOnly{why: fmt.Sprintf("remote protocol refused (%v)", err)}
	}
	return conn, err
}
