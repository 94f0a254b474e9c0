//go:build ipmi

package fenceipmilan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/paceline-ha/paceline/pkg/fence"
	"github.com/paceline-ha/paceline/pkg/ocf"
)

// DelegateTo is empty: this build speaks IPMI itself.
const DelegateTo = ""

// native is a Device over go-ipmi. It keeps one session for the whole
// action and opens a new one once when an exchange fails for any reason
// but a completion code (a BMC may drop sessions while it switches power).
type native struct {
	cfg      Config
	password string
	log      *ocf.Logger
	c        *client.Client
	dead     bool // the last exchange timed out: do not wait on a close
}

func newNative(c Config, password string, log *ocf.Logger) (fence.Device, error) {
	return &native{cfg: c, password: password, log: log}, nil
}

var privileges = map[string]types.PrivilegeLevel{
	"callback": types.PrivilegeLevelCallback, "user": types.PrivilegeLevelUser,
	"operator": types.PrivilegeLevelOperator, "administrator": types.PrivilegeLevelAdministrator,
}

// exchangeBound is how long one exchange may take, with its retries.
func (n *native) exchangeBound() time.Duration {
	return n.cfg.Timeout * time.Duration(1+n.cfg.Retries)
}

func (n *native) connect(ctx context.Context) error {
	if n.c != nil {
		return nil
	}
	host := n.cfg.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // go-ipmi joins host and port with a bare ":"
	}
	c, err := client.NewClient(host, n.cfg.Port, n.cfg.User, n.password)
	if err != nil {
		return err
	}
	c.WithTimeout(n.cfg.Timeout)
	c.WithRetry(n.cfg.Retries)
	if n.cfg.Lanplus {
		c.WithInterface(client.InterfaceLanplus)
		ids := make([]types.CipherSuiteID, len(n.cfg.Ciphers))
		for i, id := range n.cfg.Ciphers {
			ids[i] = types.CipherSuiteID(id)
		}
		c.WithCipherSuiteID(ids...)
	} else {
		c.WithInterface(client.InterfaceLan)
	}
	c.WithMaxPrivilegeLevel(privileges[n.cfg.Priv])
	// Setup takes several exchanges: capabilities, then open session and
	// RAKP 1 and 3 per offered suite, privilege (IPMI 1.5: capabilities,
	// challenge, activate, privilege).
	bound := n.exchangeBound() * time.Duration(4+2*len(n.cfg.Ciphers))
	start := time.Now()
	err = bounded(ctx, bound, func(ctx context.Context) error { return c.Connect(ctx) })
	if err != nil {
		// No session to close; the socket goes with the process (a Close
		// would wait on a Close Session answer that never comes).
		n.dead = isTimeout(err)
		return n.describe("cannot open a session", err)
	}
	n.log.Debugf("IPMI %s session with %s (cipher %v, %s) in %v", n.cfg.iface(), n.cfg.addr(), n.cfg.Ciphers, n.cfg.Priv, time.Since(start).Round(time.Microsecond))
	n.c = c
	n.dead = false
	return nil
}

// do runs one exchange in a session. With again, an exchange that fails
// for any reason but a completion code is tried once more in a new
// session; commands are not (their answer may be what was lost).
func (n *native) do(ctx context.Context, what string, again bool, fn func(ctx context.Context, c *client.Client) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 && !again {
			break
		}
		if err = n.connect(ctx); err != nil {
			return err
		}
		c := n.c
		err = bounded(ctx, n.exchangeBound(), func(ctx context.Context) error { return fn(ctx, c) })
		if err == nil {
			return nil
		}
		var re *types.ResponseError
		if errors.As(err, &re) || ctx.Err() != nil {
			break
		}
		n.log.Debugf("%s failed (%v); opening a new session", what, err)
		n.drop(isTimeout(err))
	}
	return n.describe(what+" failed", err)
}

func (n *native) drop(timedOut bool) {
	if n.c != nil {
		if !timedOut {
			closeQuietly(n.c)
		}
		n.c = nil
	}
}

// Status reads the chassis power state.
func (n *native) Status(ctx context.Context) (bool, error) {
	var on bool
	err := n.do(ctx, "Get Chassis Status", true, func(ctx context.Context, c *client.Client) error {
		res, err := c.GetChassisStatus(ctx)
		if err == nil {
			on = res.PowerIsOn
		}
		return err
	})
	return on, err
}

var controls = map[fence.PowerOp]chassis.ChassisControl{
	fence.On: chassis.ChassisControlPowerUp, fence.Off: chassis.ChassisControlPowerDown,
	fence.Cycle: chassis.ChassisControlPowerCycle, fence.Diag: chassis.ChassisControlDiagnosticInterrupt,
}

// Power sends a Chassis Control command.
func (n *native) Power(ctx context.Context, op fence.PowerOp) error {
	ctl, ok := controls[op]
	if !ok {
		return fmt.Errorf("no IPMI command for %q", op)
	}
	return n.do(ctx, "Chassis Control power "+string(op), false, func(ctx context.Context, c *client.Client) error {
		_, err := c.ChassisControl(ctx, ctl)
		return err
	})
}

// Close ends the session (without waiting on a BMC that stopped answering).
func (n *native) Close() { n.drop(n.dead) }

func closeQuietly(c *client.Client) {
	_ = bounded(context.Background(), time.Second, func(ctx context.Context) error { return c.Close(ctx) })
}

// bounded runs fn and gives up on it at the context's deadline or after
// limit: go-ipmi bounds each attempt, but a fence agent must not trust
// that the sum stays within its own time.
func bounded(ctx context.Context, limit time.Duration, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit+500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %v: %w", limit, ctx.Err())
	}
}

// completionCode returns the IPMI completion code in err, if any.
func completionCode(err error) (uint8, bool) {
	var re *types.ResponseError
	if errors.As(err, &re) {
		return uint8(re.CompletionCode()), true
	}
	return 0, false
}

func (n *native) describe(what string, err error) error {
	code, hasCode := completionCode(err)
	return classify(n.cfg, what, err, code, hasCode, errors.Is(err, client.ErrRAKPAuthentication))
}
