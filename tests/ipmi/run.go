package ipmi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/proc"
)

// errPortShared: another socket has b's port in ipmi_sim's namespace.
// ipmi_sim binds with SO_REUSEADDR, so it does not fail then: it gets
// part of the traffic, or none.
var errPortShared = errors.New("another socket is bound to the port")

// waitBound waits until ipmi_sim has bound its port (seen in the
// process's own network namespace), alone.
func (b *BMC) waitBound(timeout time.Duration) error {
	pid := b.sim.PID()
	return proc.Until(timeout, 10*time.Millisecond, func() error {
		if b.sim.Exited() {
			return proc.Abort(errors.New("ipmi_sim exited"))
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "ipmi_sim" {
			ours, others := udpSockets(pid, b.Port)
			if others > 0 {
				return proc.Abort(errPortShared)
			}
			if ours {
				return nil
			}
		}
		return fmt.Errorf("ipmi_sim (PID %d) has not bound UDP port %d (a Wrap must exec, not fork)", pid, b.Port)
	})
}

// WaitAnswering waits until the BMC answers a power status, and fails
// at once when its ipmi_sim has exited.
func (b *BMC) WaitAnswering(timeout time.Duration) error {
	return proc.Until(timeout, 50*time.Millisecond, func() error {
		out, err := b.Ipmitool("-N", "1", "-R", "1", "chassis", "power", "status")
		switch {
		case err == nil:
			return nil
		case b.sim.Exited():
			return proc.Abort(errors.New("ipmi_sim exited"))
		}
		return fmt.Errorf("not answering: %v\n%s", err, out)
	})
}

// udpSockets looks at the UDP sockets bound to port in pid's network
// namespace: whether one is pid's, and how many others there are.
func udpSockets(pid, port int) (ours bool, others int) {
	mine := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	for _, f := range []string{"udp", "udp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if i < 0 {
				continue
			}
			if p, err := strconv.ParseUint(fields[1][i+1:], 16, 16); err != nil || int(p) != port {
				continue
			}
			if mine[fields[9]] {
				ours = true
			} else {
				others++
			}
		}
	}
	return ours, others
}

// freeUDPPort asks the kernel for a free UDP port on addr (or on the
// loopback when addr is not an address here, e.g. one inside a
// namespace).
func freeUDPPort(addr string) (int, error) {
	c, err := net.ListenPacket("udp", net.JoinHostPort(addr, "0"))
	if err != nil {
		if c, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return 0, err
		}
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
