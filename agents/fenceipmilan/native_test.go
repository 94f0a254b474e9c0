//go:build ipmi

package fenceipmilan

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestNativeIPv6 sends to a silent UDP socket on ::1: the failure must be
// the silence, not the address (go-ipmi joins host and port with ":").
func TestNativeIPv6(t *testing.T) {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	c := Config{Host: "::1", Port: port, Lanplus: true, Ciphers: []int{3}, Priv: "administrator",
		Timeout: 100 * time.Millisecond, Retries: 0}
	dev, _ := newNative(c, "pw", nil)
	defer dev.Close()
	start := time.Now()
	_, err = dev.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "BMC not answering: no reply from [::1]:") {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
}
