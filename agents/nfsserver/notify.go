package nfsserver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// NotifyCommand is the hidden command of the paceline binary that sends
// the NFSv3 reboot notifications in the background, once the service can
// take the clients' lock reclaims: something is exported (the exportfs
// resources start after the server) and every nfs_ip is on this node
// (the address usually starts last). A notification sent earlier makes
// the clients reclaim against a server that cannot answer yet, and they
// lose their locks; the stock agent sends it at once, and users add
// ocf:heartbeat:nfsnotify at the end of the group for that reason.
const NotifyCommand = "__nfsserver-notify"

// notifyWait bounds the wait for the exports and the addresses: past it,
// the notifications go out anyway.
const notifyWait = 2 * time.Minute

// unnamedIPs warns of each nfs_ip address that has no host name: the
// notifications must carry a name (sm-notify refuses an address without
// one, and then no NFSv3 client reclaims its locks), which the clients
// resolve back to the address they mounted.
func unnamedIPs(ctx context.Context, r *ocf.Request, c *Config) {
	for _, ip := range c.IPs {
		if net.ParseIP(ip) == nil {
			continue // a name: sm-notify sends it as it is
		}
		lctx, cancel := context.WithTimeout(ctx, ocf.Share(ctx, 8, 0, 2*time.Second))
		names, err := lookupAddr(lctx, ip)
		cancel()
		if err != nil || len(names) == 0 {
			r.Log.Warnf("nfs_ip %s has no host name (DNS or /etc/hosts): sm-notify will refuse to send NFSv3 clients the notifications they reclaim their locks on", ip)
		}
	}
}

// lookupAddr is the resolver's reverse lookup; tests replace it.
var lookupAddr = net.DefaultResolver.LookupAddr

// startNotifier starts the background notifier.
func startNotifier(r *ocf.Request, c *Config) error {
	args := []string{NotifyCommand, "-wait", notifyWait.String(), "-retry", fmt.Sprint(c.RetryMinutes)}
	if len(c.IPs) > 0 {
		args = append(args, "-ips", strings.Join(c.IPs, ","))
	}
	pid, err := ocf.Helper{Args: append(args, "-log", r.StatePath("nfsserver-notify.log"))}.Start()
	if err != nil {
		return err
	}
	r.Log.Infof("NFSv3 clients will be notified (sm-notify) by process %d once the service is exported and addressed", pid)
	return nil
}

// NotifyMain is the notifier's side: wait, then sm-notify per address.
func NotifyMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(NotifyCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	wait := fs.Duration("wait", notifyWait, "how long to wait for the exports and the addresses")
	retry := fs.Int("retry", -1, "sm-notify -m (minutes); -1: its default")
	ips := fs.String("ips", "", "the service's addresses, separated by commas")
	logFile := fs.String("log", "", "where to write what it did")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *logFile != "" {
		if f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
			defer f.Close()
			stderr = f
		}
	}
	c := &Config{RetryMinutes: *retry}
	for _, ip := range strings.Split(*ips, ",") {
		if ip != "" {
			c.IPs = append(c.IPs, ip)
		}
	}
	began := time.Now()
	for end := began.Add(*wait); time.Now().Before(end) && !serving(c); {
		time.Sleep(500 * time.Millisecond)
	}
	if observe(c).Threads <= 0 {
		// Stopped meanwhile (a start that failed, a quick move away):
		// the clients must reclaim from the node that serves now.
		fmt.Fprintf(stderr, "%s: the NFS server stopped; not notifying\n", time.Now().Format(time.RFC3339Nano))
		return 0
	}
	fmt.Fprintf(stderr, "%s: notifying after %v (serving: %v)\n", time.Now().Format(time.RFC3339Nano), time.Since(began).Round(time.Millisecond), serving(c))
	// sm-notify exits at once when it cannot start (for example when the
	// name service cannot say whether -v's address has a name): retry such
	// a run for up to the wait and a minute more, so that a name server
	// that is briefly unreachable does not cost the clients their locks.
	// A run that started backgrounds itself and exits 0.
	ctx, cancel := context.WithTimeout(context.Background(), *wait+time.Minute)
	defer cancel()
	targets := c.IPs
	if len(targets) == 0 {
		targets = []string{""}
	}
	for len(targets) > 0 {
		var failed []string
		for _, ip := range targets {
			out, err := (ocf.Helper{Path: "sm-notify", Args: c.NotifyArgs(ip)}).Run(ctx)
			fmt.Fprintf(stderr, "%s: sm-notify %s: %v %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(c.NotifyArgs(ip), " "), err, out.LastLine())
			if err != nil {
				failed = append(failed, ip)
			}
		}
		targets = failed
		if len(targets) > 0 && !ocf.Sleep(ctx, notifyRetry) {
			return 1
		}
	}
	return 0
}

// notifyRetry is the pause between two runs of sm-notify that failed.
var notifyRetry = 5 * time.Second

// serving reports whether something is exported and every address of c
// is on a local interface.
func serving(c *Config) bool {
	etab, err := os.ReadFile(stateDir + "/etab")
	if err != nil || len(strings.TrimSpace(string(etab))) == 0 {
		return false
	}
	if len(c.IPs) == 0 {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	local := map[string]bool{}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			local[n.IP.String()] = true
		}
	}
	for _, ip := range c.IPs {
		if p := net.ParseIP(ip); p == nil || !local[p.String()] {
			return false
		}
	}
	return true
}
