package fenceipmilan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// isTimeout reports whether err means the BMC did not answer.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "timeout") || strings.Contains(s, "timed out") || strings.Contains(s, "no answer") ||
		strings.Contains(s, "deadline")
}

func isRefused(err error) bool {
	return err != nil && (errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(err.Error(), "connection refused"))
}

// IPMI completion codes and RMCP+ status codes the messages name.
const (
	ccInsufficientPrivilege = 0xd4
	ccPrivilegeNotAvailable = 0x81 // Set Session Privilege Level: above the user's limit
	ccInvalidCommand        = 0xc1
	ccInvalidField          = 0xcc
	ccNotInPresentState     = 0xd5
)

// classify turns a failed exchange into a message that says what to fix,
// leading with the cause (Pacemaker shows the start of a message).
func classify(c Config, what string, err error, code uint8, hasCode, authFailed bool) error {
	addr := c.addr()
	err = fmt.Errorf("%s", strings.Join(strings.Fields(err.Error()), " "))
	msg := strings.ToLower(err.Error())
	switch {
	case authFailed || strings.Contains(msg, "rakp 2 hmac") || strings.Contains(msg, "unauthorized name") ||
		strings.Contains(msg, "invalid user name") || strings.Contains(msg, "password") ||
		strings.Contains(msg, "authentication code mismatch") || strings.Contains(msg, "rakp authentication failed") ||
		strings.Contains(msg, "integrity check"):
		return fmt.Errorf("authentication failed: wrong username, password or Kg key for the BMC at %s (%s: %v)", addr, what, err)
	case !c.Lanplus && isTimeout(err) && strings.Contains(msg, "activatesession"):
		// IPMI 1.5 BMCs drop an Activate Session with a bad password
		// without a word, after answering the steps before it.
		return fmt.Errorf("authentication failed: the BMC at %s answered but did not activate the IPMI 1.5 session: wrong username or password? (%s: %v)", addr, what, err)
	case strings.Contains(msg, "cipher") || strings.Contains(msg, "authentication algorithm") ||
		strings.Contains(msg, "integrity algorithm") || strings.Contains(msg, "confidentiality algorithm"):
		return fmt.Errorf("cipher suite refused: the BMC at %s does not accept cipher %s (%s: %v)", addr, cipherList(c), what, err)
	case isRefused(err):
		return fmt.Errorf("BMC not answering: nothing listens at %s (connection refused, %s)", addr, what)
	case isTimeout(err):
		return fmt.Errorf("BMC not answering: no reply from %s within %v, %d attempts (%s)", addr, c.Timeout, 1+c.Retries, what)
	case hasCode && code == ccInsufficientPrivilege, strings.Contains(msg, "insufficient privilege"):
		return fmt.Errorf("insufficient privilege: user %q at privilege level %s may not do this (%s); use privlvl operator or administrator", c.User, c.Priv, what)
	case hasCode && code == ccPrivilegeNotAvailable, strings.Contains(msg, "privilege level"):
		return fmt.Errorf("privilege level %s not allowed for user %q at %s (%s: %v); set privlvl to the user's level", c.Priv, c.User, addr, what, err)
	case hasCode && (code == ccInvalidCommand || code == ccInvalidField || code == ccNotInPresentState):
		return fmt.Errorf("the BMC at %s refused %s (completion code %#02x: not supported, or not in the present power state)", addr, what, code)
	}
	return fmt.Errorf("%s at %s: %v", what, addr, err)
}

func cipherList(c Config) string {
	s := make([]string, len(c.Ciphers))
	for i, id := range c.Ciphers {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, " or ")
}
