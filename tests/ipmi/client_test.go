package ipmi

import "testing"

// With copies, sets and removes; FenceStdin writes one sorted line per
// parameter.
func TestWithAndFenceStdin(t *testing.T) {
	base := map[string]string{"ip": "127.0.0.1", "lanplus": "1", "password": "pw"}
	p := With(base, "action", "status", "lanplus", "", "ip", "192.0.2.1")
	if got, want := FenceStdin(p), "action=status\nip=192.0.2.1\npassword=pw\n"; got != want {
		t.Errorf("FenceStdin = %q, want %q", got, want)
	}
	if got, want := FenceStdin(base), "ip=127.0.0.1\nlanplus=1\npassword=pw\n"; got != want {
		t.Errorf("With changed its argument: %q, want %q", got, want)
	}
	if FenceStdin(nil) != "" {
		t.Error("FenceStdin(nil) is not empty")
	}
}
