package drbdlab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// qmpCommand runs one QMP command on a qemu monitor socket: greeting,
// capabilities negotiation, the command, and its reply (events are
// skipped). Everything is bounded by timeout.
func qmpCommand(socket string, timeout time.Duration, command string, args any) (json.RawMessage, error) {
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %v", command, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	dec := json.NewDecoder(conn)
	enc := json.NewEncoder(conn)
	type reply struct {
		Event  string          `json:"event"`
		QMP    json.RawMessage `json:"QMP"`
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Class string `json:"class"`
			Desc  string `json:"desc"`
		} `json:"error"`
	}
	read := func() (reply, error) {
		for {
			var r reply
			if err := dec.Decode(&r); err != nil {
				return r, err
			}
			if r.Event == "" {
				return r, nil
			}
		}
	}
	if _, err := read(); err != nil { // the greeting
		return nil, fmt.Errorf("qmp %s: greeting: %v", command, err)
	}
	steps := []map[string]any{{"execute": "qmp_capabilities"}, {"execute": command}}
	if args != nil {
		steps[1]["arguments"] = args
	}
	var r reply
	for _, s := range steps {
		if err := enc.Encode(s); err != nil {
			return nil, fmt.Errorf("qmp %s: %v", command, err)
		}
		if r, err = read(); err != nil {
			return nil, fmt.Errorf("qmp %s: %v", command, err)
		}
		if r.Error != nil {
			return nil, fmt.Errorf("qmp %s: %s: %s", s["execute"], r.Error.Class, r.Error.Desc)
		}
	}
	return r.Return, nil
}

// ErrTimeout is wrapped by the error of a guest command that ran out of
// time (and was killed in the guest).
var ErrTimeout = errors.New("guest command timed out")

// ctlConn is the host end of a guest's control channel: a virtio-serial
// port the guest agent (agent.sh) reads commands from.
//
// Host to guest, one line per request:
//
//	C <id> <timeout-ms> <length>\n<script>   run the script (length bytes)
//	P <id>\n                                 ping
//
// Guest to host, written under a lock so that concurrent answers never
// interleave:
//
//	R <id> <exit code> <ok|timeout> <length>\n<combined output>
//	P <id>\n
type ctlConn struct {
	conn net.Conn
	wmu  sync.Mutex // one request line at a time

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan ctlReply
	err     error         // why the connection ended
	dead    chan struct{} // closed when it ended
}

type ctlReply struct {
	rc       int
	timedOut bool
	out      []byte
}

func dialCtl(socket string, timeout time.Duration) (*ctlConn, error) {
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return nil, err
	}
	c := &ctlConn{conn: conn, pending: map[uint64]chan ctlReply{}, dead: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *ctlConn) readLoop() {
	r := bufio.NewReaderSize(c.conn, 64<<10)
	var err error
loop:
	for {
		var line []byte
		if line, err = r.ReadBytes('\n'); err != nil {
			break
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue // noise, e.g. a partial line from before we connected
		}
		id, perr := strconv.ParseUint(string(f[1]), 10, 64)
		if perr != nil {
			continue
		}
		var rep ctlReply
		switch {
		case string(f[0]) == "P" && len(f) == 2:
		case string(f[0]) == "R" && len(f) == 5:
			rc, err1 := strconv.Atoi(string(f[2]))
			n, err2 := strconv.Atoi(string(f[4]))
			if err1 != nil || err2 != nil || n < 0 {
				continue
			}
			out := make([]byte, n)
			if _, err = io.ReadFull(r, out); err != nil {
				break loop
			}
			rep = ctlReply{rc: rc, timedOut: string(f[3]) == "timeout", out: out}
		default:
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
	c.close(fmt.Errorf("control channel closed: %v", err))
}

// closed reports whether the connection has ended.
func (c *ctlConn) closed() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func (c *ctlConn) close(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		close(c.dead)
	}
	c.mu.Unlock()
	c.conn.Close()
}

// request sends one request line built from its id and waits for the
// answer until deadline.
func (c *ctlConn) request(line func(id uint64) string, deadline time.Time) (ctlReply, error) {
	ch := make(chan ctlReply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return ctlReply{}, c.err
	}
	c.next++
	id := c.next
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	c.wmu.Lock()
	_ = c.conn.SetWriteDeadline(deadline)
	_, err := c.conn.Write([]byte(line(id)))
	c.wmu.Unlock()
	if err != nil {
		forget()
		return ctlReply{}, fmt.Errorf("control channel: %v", err)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-ch:
		return r, nil
	case <-c.dead:
		forget()
		return ctlReply{}, c.err
	case <-timer.C:
		forget()
		return ctlReply{}, fmt.Errorf("control channel: no answer within the deadline")
	}
}

func (c *ctlConn) ping(timeout time.Duration) error {
	_, err := c.request(func(id uint64) string { return fmt.Sprintf("P %d\n", id) }, time.Now().Add(timeout))
	return err
}

// run runs script in the guest, killed there after timeout; the answer
// is awaited a few seconds longer.
func (c *ctlConn) run(script string, timeout time.Duration) (ctlReply, error) {
	if strings.IndexByte(script, 0) >= 0 {
		return ctlReply{}, errors.New("script holds a NUL byte")
	}
	ms := timeout.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return c.request(func(id uint64) string { return fmt.Sprintf("C %d %d %d\n%s", id, ms, len(script), script) },
		time.Now().Add(timeout+8*time.Second))
}
