package ipaddr2

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// packetSock is an AF_PACKET socket bound to one interface, for sending
// announcements and receiving ARP replies without an external program.
type packetSock struct {
	fd      int
	ifindex int
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openPacket opens a packet socket for ethertype on ifindex inside the
// host's namespace.
func (n *host) openPacket(ifindex int, ethertype uint16) (*packetSock, error) {
	var fd int
	err := n.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(ethertype)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(ethertype), Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	return &packetSock{fd: fd, ifindex: ifindex}, nil
}

func (s *packetSock) Close() { unix.Close(s.fd) }

// send writes one Ethernet frame (its header included) to the interface.
func (s *packetSock) send(frame []byte) error {
	var dst [8]byte
	copy(dst[:], frame[0:6])
	to := &unix.SockaddrLinklayer{
		Protocol: htons(uint16(frame[12])<<8 | uint16(frame[13])),
		Ifindex:  s.ifindex,
		Halen:    6,
		Addr:     dst,
	}
	return unix.Sendto(s.fd, frame, 0, to)
}

// recv waits until deadline for a frame that is not our own outgoing one
// and returns its payload (after the Ethernet header, which the kernel
// keeps for SOCK_RAW).
func (s *packetSock) recv(deadline time.Time, buf []byte) ([]byte, bool, error) {
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, false, nil
		}
		ms := int(wait / time.Millisecond)
		if ms == 0 {
			ms = 1
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		nready, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if nready == 0 {
			continue
		}
		n, from, err := unix.Recvfrom(s.fd, buf, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n < 14 {
			continue
		}
		return buf[14:n], true, nil
	}
}

// Announcer sends the announcements of one address on one interface.
type Announcer struct {
	sock  *packetSock
	frame []byte
}

// newAnnouncer prepares gratuitous ARP (IPv4) or unsolicited NA (IPv6)
// frames for ip from mac.
func (n *host) newAnnouncer(ifindex int, mac MAC, ip netip.Addr, reply bool) (*Announcer, error) {
	var frame []byte
	var etype uint16
	if ip.Is4() {
		op, tmac := uint16(arpRequest), MAC{0, 0, 0, 0, 0, 0}
		if reply {
			op, tmac = arpReply, broadcastMAC
		}
		frame, etype = ARPFrame(op, mac, ip, tmac, ip), etherARP
	} else {
		frame, etype = NAFrame(mac, ip), etherIPv6
	}
	s, err := n.openPacket(ifindex, etype)
	if err != nil {
		return nil, err
	}
	return &Announcer{sock: s, frame: frame}, nil
}

// Send sends count announcements interval apart, stopping early when ctx
// ends. It returns how many were sent.
func (a *Announcer) Send(ctx context.Context, count int, interval time.Duration) (int, error) {
	sent := 0
	for i := 0; i < count; i++ {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return sent, ctx.Err()
			case <-t.C:
			}
		}
		if err := a.sock.send(a.frame); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

func (a *Announcer) Close() { a.sock.Close() }

// Conflict describes another host that answered for the address.
type Conflict struct {
	MAC MAC
}

// probeARP sends RFC 5227 ARP probes for ip (two, 0.5 s apart) and
// listens for one second for another host that claims it. It replaces
// "arping -q -c 2 -w 3 -D -I NIC IP".
func (n *host) probeARP(ctx context.Context, ifindex int, mac MAC, ip netip.Addr) (*Conflict, error) {
	s, err := n.openPacket(ifindex, etherARP)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	probe := ARPFrame(arpRequest, mac, netip.IPv4Unspecified(), MAC{0, 0, 0, 0, 0, 0}, ip)
	start := time.Now()
	end := start.Add(time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	next := start
	buf := make([]byte, 1600)
	for sent := 0; ; {
		if sent < 2 && !time.Now().Before(next) {
			if err := s.send(probe); err != nil {
				return nil, fmt.Errorf("send ARP probe: %w", err)
			}
			sent++
			next = start.Add(500 * time.Millisecond)
		}
		until := end
		if sent < 2 && next.Before(until) {
			until = next
		}
		payload, ok, err := s.recv(until, buf)
		if err != nil {
			return nil, fmt.Errorf("receive ARP: %w", err)
		}
		if ok {
			if p, ok := ParseARP(payload); ok && p.SenderIP == ip && p.SenderMAC.String() != mac.String() {
				return &Conflict{MAC: p.SenderMAC}, nil
			}
			continue
		}
		if !time.Now().Before(end) {
			return nil, nil
		}
	}
}
