//go:build ipmi

package fenceipmilan

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestNativeIPv6 sends to a silent UDP socket on ::1: the failure must be
// the silence, not the address (go-ipmi joins host and port with ":").
// That the request reached the socket and the message names the timeout
// and the attempts given show it, whatever the machine's load; how fast
// it gives up is not measured here.
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
	_, err = dev.Status(context.Background())
	want := fmt.Sprintf("BMC not answering: no reply from [::1]:%d within 100ms, 1 attempts", port)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Status() = %v, want %q...", err, want)
	}
	// The request was sent before Status returned: it waits in the
	// socket's queue, and the deadline only bounds a read of nothing.
	if err := pc.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, _, err := pc.ReadFrom(buf); err != nil {
		t.Errorf("nothing reached [::1]:%d: %v", port, err)
	}
}
