package ipaddr2

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// AnnounceCommand is the hidden command of the paceline binary that sends
// the remaining announcements after start has returned (what
// ocf:heartbeat:IPaddr2 does with a background send_arp).
const AnnounceCommand = "__ipaddr2-announce"

func pidFile(ip string) string { return "IPaddr2-announce-" + ip + ".pid" }

// startBackground re-executes this binary as the announcer, detached from
// stdio but in the same process group, so that an execd kill of a timed
// out start takes it along. Its pid goes to HA_RSCTMP so stop can end it.
func startBackground(r *ocf.Request, t *target, count int) error {
	args := []string{AnnounceCommand,
		"-ifname", t.place.NIC,
		"-ip", t.cfg.IP.String(),
		"-count", strconv.Itoa(count),
		"-interval", t.cfg.ArpInterval.String(),
	}
	if t.cfg.Netns != "" {
		args = append(args, "-netns", t.cfg.Netns)
	}
	if t.cfg.ArpReply {
		args = append(args, "-reply")
	}
	pid, err := ocf.Helper{Args: args}.Start()
	if err != nil {
		return fmt.Errorf("start background announcer: %w", err)
	}
	_ = r.WriteState(pidFile(t.cfg.IP.String()), []byte(strconv.Itoa(pid)+"\n"))
	return nil
}

// stopBackground ends a background announcer of ip that is still running
// (all of them for ip ""), checking that the pid still is one.
func stopBackground(r *ocf.Request, ip string) {
	pattern := r.StatePath(pidFile(ip))
	if ip == "" {
		pattern = r.StatePath(pidFile("*"))
	}
	files, _ := filepath.Glob(pattern)
	for _, f := range files {
		b, err := os.ReadFile(f)
		_ = os.Remove(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(AnnounceCommand)) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGTERM) == nil {
			r.Log.Infof("stopped the background announcer (pid %d)", pid)
		}
	}
}

// AnnounceMain is the background announcer: it sends count announcements
// interval apart and exits. It returns the process exit code.
func AnnounceMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(AnnounceCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ifname := fs.String("ifname", "", "interface")
	ipStr := fs.String("ip", "", "address")
	count := fs.Int("count", 0, "announcements")
	interval := fs.Duration("interval", 200*time.Millisecond, "interval")
	ns := fs.String("netns", "", "network namespace")
	reply := fs.Bool("reply", false, "ARP replies")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ip, err := netip.ParseAddr(*ipStr)
	if err != nil || *ifname == "" || *count <= 0 {
		fmt.Fprintln(stderr, "usage: paceline", AnnounceCommand, "-ifname NIC -ip IP -count N [-interval D] [-netns NS] [-reply]")
		return 2
	}
	h, err := openHost(*ns, 5*time.Second)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer h.Close()
	l, err := h.LinkByName(*ifname)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	a, err := h.newAnnouncer(l.Index, l.MAC, ip, *reply)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer a.Close()
	// The first announcement went out before start returned. The
	// deadline only ends a helper that cannot send: slack enough that a
	// busy machine does not cut the last announcements.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*count+1)*(*interval)+5*time.Second)
	defer cancel()
	time.Sleep(*interval)
	if _, err := a.Send(ctx, *count, *interval); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
