package virtualdomain

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// Authentication types a daemon lists (REMOTE_AUTH_*).
const (
	authNone   = 0
	authSASL   = 1
	authPolkit = 2
)

// fakeDaemon answers the fast path on a unix socket as libvirtd does: the
// authentication list it is given, success to open, polkit and close,
// and "no such domain" to a look-up. A mute one accepts connections and
// never answers, as a hung libvirtd.
type fakeDaemon struct {
	uri   string
	auth  []uint32
	mute  bool
	conns atomic.Int32
}

func startFakeDaemon(t *testing.T, mute bool, auth ...uint32) *fakeDaemon {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "libvirt-sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	d := &fakeDaemon{uri: "qemu+unix:///system?socket=" + sock, auth: auth, mute: mute}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			d.conns.Add(1)
			go d.serve(c)
		}
	}()
	return d
}

func (d *fakeDaemon) serve(c net.Conn) {
	defer c.Close()
	for {
		var size [4]byte
		if _, err := io.ReadFull(c, size[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint32(size[:])-4)
		if _, err := io.ReadFull(c, msg); err != nil || d.mute {
			continue
		}
		h := rd{b: msg}
		prog, vers, proc, _, serial := h.u32(), h.u32(), h.u32(), h.u32(), h.u32()
		status := uint32(rpcOK)
		var body xdr
		switch proc {
		case procAuthList:
			body.u32(uint32(len(d.auth)))
			for _, a := range d.auth {
				body.u32(a)
			}
		case procDomainLookup:
			status = rpcError
			body.u32(errNoDomain)
			body.u32(10) // VIR_FROM_QEMU
			body.optString("Domain not found: no domain with matching name 'vm1'")
		}
		var reply xdr
		for _, v := range []uint32{0, prog, vers, proc, rpcReply, serial, status} {
			reply.u32(v)
		}
		reply = append(reply, body...)
		binary.BigEndian.PutUint32(reply, uint32(len(reply)))
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// TestWithoutLibvirt: the decision main.go takes before an action, from
// the URI: a monitor whose URI the fast path speaks to stays in the static
// build; the rest goes to Companion.
func TestWithoutLibvirt(t *testing.T) {
	tests := []struct {
		name, action, uri string
		want              bool
	}{
		{"meta-data", "meta-data", "", true},
		{"validate-all", "validate-all", "qemu+ssh://node2/system", true},
		{"start", "start", "qemu:///system", false},
		{"stop", "stop", "qemu:///system", false},
		{"migrate_to", "migrate_to", "qemu:///system", false},
		{"migrate_from", "migrate_from", "qemu:///system", false},
		{"monitor, local", "monitor", "qemu:///system", true},
		{"status, local", "status", "qemu:///system", true},
		{"monitor, a socket", "monitor", "qemu+unix:///system?socket=/run/x", true},
		{"monitor, tcp", "monitor", "qemu+tcp://node2/system", true},
		{"monitor, ssh", "monitor", "qemu+ssh://node2/system", false},
		{"monitor, the default URI", "monitor", "", false},
	}
	for _, tt := range tests {
		if got := WithoutLibvirt(tt.action, tt.uri); got != tt.want {
			t.Errorf("WithoutLibvirt(%s, %q) = %v, want %v (%s)", tt.action, tt.uri, got, tt.want, tt.name)
		}
	}
}

// TestMonitorFastPath: a monitor talks to a daemon over the fast path
// with one connection, and falls back to libvirt's client for a daemon
// that asks for what only that client does (SASL).
func TestMonitorFastPath(t *testing.T) {
	for _, tt := range []struct {
		name string
		auth uint32
		fast bool
	}{
		{"no authentication", authNone, true},
		{"polkit", authPolkit, true},
		{"SASL", authSASL, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := startFakeDaemon(t, false, tt.auth)
			hv, err := fastPath(context.Background(), d.uri, &ocf.Logger{})
			if err != nil {
				t.Fatalf("fastPath: %v", err)
			}
			if (hv != nil) != tt.fast {
				t.Errorf("fastPath over %s = %v, want the fast path: %v", tt.name, hv, tt.fast)
			}
			if hv != nil {
				hv.Close()
			}
		})
	}
	hung := startFakeDaemon(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if hv, err := fastPath(ctx, hung.uri, &ocf.Logger{}); err == nil {
		hv.Close()
		t.Errorf("fastPath to a daemon that does not answer: no error")
	}
}

// The monitor makes one connection to the daemon.
func TestMonitorOneConnection(t *testing.T) {
	d := startFakeDaemon(t, false, authNone)
	c := actionCase{action: "monitor", config: domainXML(uuid1), params: map[string]string{"hypervisor": d.uri}}
	log, err := runOn(t, nil, c, monitor)
	checkResult(t, err, ocf.NotRunning, "domain vm1 is not defined")
	checkLog(t, log, "DEBUG: monitor over libvirt's remote protocol ("+d.uri+")")
	if n := d.conns.Load(); n != 1 {
		t.Errorf("%d connections to the daemon, want 1", n)
	}
}

// A monitor whose daemon is not there fails at once with the reason.
func TestMonitorWithoutDaemon(t *testing.T) {
	gone := "qemu+unix:///system?socket=" + filepath.Join(t.TempDir(), "no-daemon")
	c := actionCase{action: "monitor", config: domainXML(uuid1), params: map[string]string{"hypervisor": gone}}
	_, err := runOn(t, nil, c, monitor)
	checkResult(t, err, ocf.ErrGeneric, "cannot connect to libvirt: ")
}
