package ocf

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary act as an agent when re-executed, so exit
// codes are checked on a real process exit.
func TestMain(m *testing.M) {
	if os.Getenv("PACELINE_TEST_AGENT") == "1" {
		Main(codeAgent())
	}
	os.Exit(m.Run())
}

func codeAgent() *Agent {
	return testAgent(map[string]Handler{
		"start": func(ctx context.Context, r *Request) error {
			n, err := r.Int("code")
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			return &Error{Code: Status(n), Reason: "returned " + strconv.Itoa(n)}
		},
		"monitor": func(ctx context.Context, r *Request) error {
			// Hangs until its budget ends, then reports like a real agent.
			<-ctx.Done()
			return Generic("gave up at the deadline: %v", ctx.Err())
		},
		"stop": func(ctx context.Context, r *Request) error {
			time.Sleep(time.Hour) // a broken agent that ignores its budget
			return nil
		},
	})
}

func reexec(t *testing.T, action string, params map[string]string, timeout time.Duration) *CallResult {
	t.Helper()
	c := Call{
		Path: os.Args[0], Argv0: "Test", Type: "Test", Instance: "t1", Action: action,
		Params: params, Timeout: timeout,
		BaseEnv: append(os.Environ(), "PACELINE_TEST_AGENT=1"),
	}
	res, err := c.Run(context.Background())
	require.NoError(t, err)
	return res
}

func TestExitCodesReexec(t *testing.T) {
	for _, code := range []Status{Success, ErrGeneric, ErrArgs, ErrUnimplemented, ErrPerm,
		ErrInstalled, ErrConfigured, NotRunning, RunningPromoted, FailedPromoted, Degraded, DegradedPromoted} {
		t.Run(code.String(), func(t *testing.T) {
			res := reexec(t, "start", map[string]string{"code": strconv.Itoa(int(code))}, 10*time.Second)
			assert.Equal(t, code, res.Code)
			if code != Success {
				assert.Equal(t, "returned "+strconv.Itoa(int(code)), res.Reason)
			}
		})
	}
	t.Run("bad integer parameter", func(t *testing.T) {
		res := reexec(t, "start", map[string]string{"code": "x"}, 10*time.Second)
		assert.Equal(t, ErrConfigured, res.Code)
		assert.Contains(t, res.Reason, `code="x" is not an integer`)
	})
	t.Run("unknown action", func(t *testing.T) {
		res := reexec(t, "promote", nil, 10*time.Second)
		assert.Equal(t, ErrUnimplemented, res.Code)
	})
	t.Run("meta-data", func(t *testing.T) {
		res := reexec(t, "meta-data", nil, 10*time.Second)
		assert.Equal(t, Success, res.Code)
		assert.Contains(t, res.Stdout, "<resource-agent")
	})
}

func TestBudgetReexec(t *testing.T) {
	// A monitor that waits on its context returns before the executor's
	// timeout, with its own code and reason. Not being killed is the
	// contract (Pacemaker SIGKILLs an agent at its timeout); the reason
	// shows that the budget ended it, and it cannot end before the budget
	// (the timeout less the margin, counted from the agent's start), however
	// busy the machine.
	const timeout = 2 * time.Second
	res := reexec(t, "monitor", nil, timeout)
	assert.False(t, res.TimedOut, "the agent ended inside its budget")
	assert.Equal(t, ErrGeneric, res.Code)
	assert.Contains(t, res.Reason, "gave up at the deadline")
	assert.GreaterOrEqual(t, res.Elapsed, timeout-Margin(timeout))

	// One that ignores it is killed by the runner like execd does.
	res = reexec(t, "stop", nil, 700*time.Millisecond)
	assert.True(t, res.TimedOut)
	assert.Equal(t, ErrGeneric, res.Code)
}
