package virtualdomain

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// The monitor's fast path. Loading libvirt.so.0 costs about 15 ms of CPU
// per process (56 libraries, 21,000 symbol relocations, measured with
// libvirt 9.0), ten times what the rest of a monitor costs. A monitor only
// needs four calls (open, look up, state, info), so for the URIs that need
// no authentication (the local unix socket, or tcp with auth none) it
// speaks libvirt's remote protocol itself: XDR messages over the daemon's
// socket, exactly what libvirt's remote driver sends. Everything else, and
// every other action, goes through libvirt.org/go/libvirt.

const (
	rpcProgram = 0x20008086 // REMOTE_PROGRAM
	rpcVersion = 1

	procConnectOpen    = 1
	procAuthList       = 66
	procAuthPolkit     = 70
	procConnectClose   = 2
	procDomainXMLDesc  = 14
	procDomainGetInfo  = 16
	procDomainLookup   = 23
	procDomainGetState = 212

	rpcCall  = 0
	rpcReply = 1
	rpcOK    = 0
	rpcError = 1

	errNoDomain = 42 // VIR_ERR_NO_DOMAIN

	xmlInactive = 2 // VIR_DOMAIN_XML_INACTIVE
	xmlSecure   = 1 // VIR_DOMAIN_XML_SECURE

	defaultSocket = "/run/libvirt/libvirt-sock"
)

// rpcTarget tells where the fast path connects for uri and which name it
// opens there, or ok false when the URI needs libvirt itself (ssh, tls,
// an empty URI that only libvirt's configuration resolves, other
// drivers).
func rpcTarget(uri string) (network, addr, name string, ok bool) {
	u, err := url.Parse(uri)
	if err != nil || uri == "" {
		return "", "", "", false
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" || (u.Path != "/system" && u.Path != "/session") {
		return "", "", "", false
	}
	name = driver + "://" + u.Path
	q := u.Query()
	for k := range q {
		if k != "socket" {
			return "", "", "", false // no_verify, keyfile, mode...: libvirt's business
		}
	}
	switch {
	case (transport == "" || transport == "unix") && u.Host == "" && u.Path == "/system":
		addr = defaultSocket
		if s := q.Get("socket"); s != "" {
			addr = s
		}
		return "unix", addr, name, true
	case transport == "tcp" && u.Host != "" && u.User == nil:
		host := u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "16509")
		}
		return "tcp", host, name, true
	}
	return "", "", "", false
}

// dialRPC opens the fast-path connection.
func dialRPC(ctx context.Context, network, addr, name string) (*rpcConn, error) {
	d := net.Dialer{}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	r := &rpcConn{c: c}
	r.setDeadline(ctx)
	if err := r.authenticate(); err != nil {
		c.Close()
		return nil, err
	}
	var args xdr
	args.optString(name)
	args.u32(0)
	if _, err := r.call(procConnectOpen, args); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// authenticate does what libvirt's client does before opening: it asks
// which authentication the socket wants. None needs nothing; polkit on the
// local socket is granted to root by the daemon on request (no polkit
// daemon involved for uid 0); SASL is left to libvirt.
func (r *rpcConn) authenticate() error {
	b, err := r.call(procAuthList, nil)
	if err != nil {
		return err
	}
	d := rd{b: b}
	n := d.u32()
	if n > 20 {
		return errors.New("bad authentication list from libvirt")
	}
	polkit := false
	for i := uint32(0); i < n; i++ {
		switch d.u32() {
		case 0: // REMOTE_AUTH_NONE
			return d.err
		case 2: // REMOTE_AUTH_POLKIT
			polkit = true
		}
	}
	if d.err != nil {
		return d.err
	}
	if n == 0 {
		return nil
	}
	if !polkit {
		return &rpcErr{msg: "the daemon wants SASL authentication"}
	}
	_, err = r.call(procAuthPolkit, nil)
	return err
}

type rpcConn struct {
	c      net.Conn
	serial uint32
}

// setDeadline bounds every call on the connection by ctx's deadline
// (none when ctx has none).
func (r *rpcConn) setDeadline(ctx context.Context) {
	dl, _ := ctx.Deadline()
	_ = r.c.SetDeadline(dl)
}

// rpcErr is an error reply from the daemon.
type rpcErr struct {
	code int32
	msg  string
}

func (e *rpcErr) Error() string { return e.msg }

// call sends one call and reads its reply, skipping other programs'
// messages (keepalives).
func (r *rpcConn) call(proc uint32, args xdr) ([]byte, error) {
	r.serial++
	var m xdr
	m.u32(0) // length, set below
	m.u32(rpcProgram)
	m.u32(rpcVersion)
	m.u32(proc)
	m.u32(rpcCall)
	m.u32(r.serial)
	m.u32(rpcOK)
	m = append(m, args...)
	binary.BigEndian.PutUint32(m, uint32(len(m)))
	if _, err := r.c.Write(m); err != nil {
		return nil, timeoutError(err)
	}
	for {
		var lenb [4]byte
		if _, err := io.ReadFull(r.c, lenb[:]); err != nil {
			return nil, timeoutError(err)
		}
		n := binary.BigEndian.Uint32(lenb[:])
		if n < 28 || n > 4<<20 {
			return nil, fmt.Errorf("libvirt sent a message of %d bytes", n)
		}
		msg := make([]byte, n-4)
		if _, err := io.ReadFull(r.c, msg); err != nil {
			return nil, timeoutError(err)
		}
		h := rd{b: msg}
		prog, _, p, typ, serial, status := h.u32(), h.u32(), h.u32(), h.u32(), h.u32(), h.u32()
		if prog != rpcProgram || typ != rpcReply || p != proc || serial != r.serial {
			continue
		}
		if status == rpcError {
			code := int32(h.u32())
			h.u32() // error domain
			text := h.optString()
			if h.err != nil || text == "" {
				text = fmt.Sprintf("libvirt error %d", code)
			}
			return nil, &rpcErr{code: code, msg: text}
		}
		if status != rpcOK {
			return nil, fmt.Errorf("libvirt reply status %d", status)
		}
		return h.b, nil
	}
}

func timeoutError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &hungError{what: "libvirt socket"}
	}
	return err
}

// rpcHV is the fast path as a Hypervisor: enough for monitor.
type rpcHV struct {
	r   *rpcConn
	uri string
}

var errNeedsLibvirt = errors.New("not available on the monitor's fast path")

func (h *rpcHV) Close() {
	_ = h.r.c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = h.r.call(procConnectClose, nil)
	h.r.c.Close()
}

func (h *rpcHV) URI(context.Context) (string, error) { return h.uri, nil }

func (h *rpcHV) Lookup(_ context.Context, name string) (Domain, error) {
	var a xdr
	a.str(name)
	b, err := h.r.call(procDomainLookup, a)
	var re *rpcErr
	if errors.As(err, &re) && re.code == errNoDomain {
		return nil, ErrNoDomain
	}
	if err != nil {
		return nil, err
	}
	d := rd{b: b}
	dom := rpcDomain{hv: h, name: d.str()}
	copy(dom.uuid[:], d.fixed(16))
	dom.id = d.i32()
	return &dom, d.err
}

func (h *rpcHV) Define(context.Context, string) (Domain, error) { return nil, errNeedsLibvirt }
func (h *rpcHV) Restore(context.Context, string) error          { return errNeedsLibvirt }
func (h *rpcHV) StartPool(context.Context, string) error        { return errNeedsLibvirt }
func (h *rpcHV) StartNetwork(context.Context, string) error     { return errNeedsLibvirt }

type rpcDomain struct {
	hv   *rpcHV
	name string
	uuid [16]byte
	id   int32
}

func (d *rpcDomain) ref() xdr {
	var a xdr
	a.str(d.name)
	a = append(a, d.uuid[:]...)
	a.u32(uint32(d.id))
	return a
}

func (d *rpcDomain) State(context.Context) (State, error) {
	a := d.ref()
	a.u32(0)
	b, err := d.hv.r.call(procDomainGetState, a)
	var re *rpcErr
	if errors.As(err, &re) && re.code == errNoDomain {
		return Undefined, nil
	}
	if err != nil {
		return NoState, err
	}
	r := rd{b: b}
	s := State(r.i32())
	return s, r.err
}

func (d *rpcDomain) Info(context.Context) (Info, error) {
	b, err := d.hv.r.call(procDomainGetInfo, d.ref())
	if err != nil {
		return Info{}, err
	}
	r := rd{b: b}
	r.u32() // state
	maxMem := r.u64()
	r.u64() // memory
	vcpus := r.u32()
	return Info{VCPUs: int(vcpus), MaxMemKiB: maxMem}, r.err
}

func (d *rpcDomain) InactiveXML(context.Context) (string, error) {
	a := d.ref()
	a.u32(xmlInactive | xmlSecure)
	b, err := d.hv.r.call(procDomainXMLDesc, a)
	if err != nil {
		return "", err
	}
	r := rd{b: b}
	x := r.str()
	return x, r.err
}

func (d *rpcDomain) Start(context.Context) error              { return errNeedsLibvirt }
func (d *rpcDomain) Shutdown(context.Context, []string) error { return errNeedsLibvirt }
func (d *rpcDomain) Destroy(context.Context) error            { return errNeedsLibvirt }
func (d *rpcDomain) Save(context.Context, string) error       { return errNeedsLibvirt }
func (d *rpcDomain) Undefine(context.Context) error           { return errNeedsLibvirt }
func (d *rpcDomain) Migrate(context.Context, MigrateSpec, func(string, ...any)) (MigrateStats, error) {
	return MigrateStats{}, errNeedsLibvirt
}

// XDR encoding (RFC 4506) of the few types used here.
type xdr []byte

func (x *xdr) u32(v uint32) { *x = binary.BigEndian.AppendUint32(*x, v) }
func (x *xdr) str(s string) {
	x.u32(uint32(len(s)))
	*x = append(*x, s...)
	for len(*x)%4 != 0 {
		*x = append(*x, 0)
	}
}
func (x *xdr) optString(s string) { x.u32(1); x.str(s) }

type rd struct {
	b   []byte
	err error
}

func (r *rd) take(n int) []byte {
	if r.err != nil || len(r.b) < n {
		if r.err == nil {
			r.err = errors.New("short libvirt reply")
		}
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *rd) u32() uint32        { return binary.BigEndian.Uint32(r.take(4)) }
func (r *rd) i32() int32         { return int32(r.u32()) }
func (r *rd) u64() uint64        { return binary.BigEndian.Uint64(r.take(8)) }
func (r *rd) fixed(n int) []byte { return r.take((n + 3) &^ 3)[:n] }
func (r *rd) str() string {
	n := r.u32()
	if n > 4<<20 {
		r.err = errors.New("bad string in libvirt reply")
		return ""
	}
	return string(r.fixed(int(n)))
}
func (r *rd) optString() string {
	if r.u32() == 0 {
		return ""
	}
	return r.str()
}
