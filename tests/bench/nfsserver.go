package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
)

const stockNfsserver = "/usr/lib/ocf/resource.d/heartbeat/nfsserver"

// nfsInfoDir is the server's state directory (nfs_shared_infodir) on the
// guest's disk: the agent binds it on /var/lib/nfs, as on a cluster
// where it is on the replicated filesystem.
const nfsInfoDir = "/srv/nfs/nfsinfo"

// startNFSServer starts the kernel's NFS server in g with
// ocf:paceline:nfsserver, as pacemaker-execd would (the guest has no
// systemd: the agent starts rpcbind, rpc.statd, rpc.mountd and nfsd
// itself), and waits until its background notifier has done its work,
// which it does once something is exported, so that nothing of it runs
// while calls are measured. It returns what the server reports.
func (b *bench) startNFSServer(t *benchTB, g *drbdlab.Guest) (string, error) {
	ours := filepath.Join(b.tmp, "bin", "nfsserver")
	out, rc := g.Run(t, 2*time.Minute, "cd / && env -i "+harness.ShellQuote(nfsserverEnv("paceline", g.IP())...)+
		" OCF_RESKEY_CRM_meta_name=start OCF_RESKEY_CRM_meta_interval=0 "+harness.ShellQuote(ours, "start")+" 2>&1")
	if rc != 0 {
		return "", fmt.Errorf("nfsserver: start of %s: exit %d: %s", ours, rc, out)
	}
	info := g.MustExec(t, `echo "nfsd threads: $(cat /proc/fs/nfsd/threads); versions: $(cat /proc/fs/nfsd/versions);`+
		` /var/lib/nfs on $(findmnt -n -o SOURCE /var/lib/nfs); daemons:" $(ps -e -o comm= | grep -E '^(rpc|nfs|sm-)' | sort -u);`+
		` sed 's/^/      agent: /' /run/nfsserver-agent.log 2>/dev/null`)
	return strings.TrimSpace(info), nil
}

// waitNotifier waits until the notifier ocf:paceline:nfsserver's start
// left in the background has sent its notifications and ended (it does
// once something is exported).
func waitNotifier(t *benchTB, g *drbdlab.Guest) {
	g.WaitFor(t, 3*time.Minute, "! pgrep -f '[_]_nfsserver-notify' >/dev/null && ! pgrep -x sm-notify >/dev/null")
}

// nfsserverRows measures the recurring monitor of ocf:heartbeat:nfsserver
// and ocf:paceline:nfsserver in g, where startNFSServer started the
// server: one row, into a figures of its own sharing the exportfs
// section's check of the fork counting.
func (b *bench) nfsserverRows(t *benchTB, g *drbdlab.Guest, check string) error {
	const section = "nfsserver"
	start := time.Now()
	f := &guestFigures{check: check}
	agents := [2]string{stockNfsserver, filepath.Join(b.tmp, "bin", "nfsserver")}
	envs := [2][]string{nfsserverEnv("heartbeat", g.IP()), nfsserverEnv("paceline", g.IP())}
	// Both monitors must see the server running before anything is
	// measured: say why, with the agent's own words, when one does not.
	for k := range agents {
		out, rc := g.Run(t, time.Minute, "cd / && env -i "+harness.ShellQuote(envs[k]...)+" "+harness.ShellQuote(agents[k], "monitor")+
			" 2>&1; rc=$?; cat /run/nfsserver-agent.log 2>/dev/null | tail -n 5; exit $rc")
		if rc != 0 {
			return fmt.Errorf("nfsserver: %s monitor: exit %d, want 0: %s", agents[k], rc, out)
		}
	}
	if err := b.guestRow(t, f, g, section, "monitor, running (10s)", agents, envs, 0, [2]int{8, 8}); err != nil {
		return err
	}
	f.took = time.Since(start)
	fmt.Fprintf(b.log, "    nfsserver rows: %v\n", f.took.Round(time.Second))
	b.nfsserverFig = f
	return nil
}

// nfsserverEnv is what pacemaker-execd gives a recurring monitor of the
// NFS server of the guides (its state in nfs_shared_infodir, its address
// for the reboot notifications), with HA_RSCTMP as for exportfs. No
// nfs_server_scope: with it, the stock agent runs its init script
// through unshare and hostname at every monitor.
func nfsserverEnv(provider, ip string) []string {
	return guestMonitorEnv("nfsd", "nfsserver", provider, "OCF_RESKEY_nfs_shared_infodir="+nfsInfoDir, "OCF_RESKEY_nfs_ip="+ip)
}

func (b *bench) nfsserverReport(w *strings.Builder) {
	f := b.nfsserverFig
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\nnfsserver: measured in the exportfs section's guest, in the same boot: ocf:paceline:nfsserver\n")
	fmt.Fprintf(w, "started the server there (no systemd in the guest: it started rpcbind, rpc.statd, rpc.mountd\n")
	fmt.Fprintf(w, "and nfsd itself) with its state in nfs_shared_infodir on the guest's disk, bound on /var/lib/nfs,\n")
	fmt.Fprintf(w, "before the exports; both agents then monitor that server with the same parameters. The stock\n")
	fmt.Fprintf(w, "monitor validates its parameters (which) and runs /etc/init.d/nfs-kernel-server status (the LSB\n")
	fmt.Fprintf(w, "functions and pidof nfsd), its output through mktemp, cat and rm, and pgrep rpc.statd at every\n")
	fmt.Fprintf(w, "call; ours reads /proc/fs/nfsd/threads, the names of the processes in /proc and the guest's\n")
	fmt.Fprintf(w, "mountinfo (is nfs_shared_infodir on /var/lib/nfs). Forks and execs counted as for drbd\n")
	fmt.Fprintf(w, "(%d of %d calls disagreed with /proc/stat); the counting checked as for exportfs. These rows\n", f.mismatch, f.calls)
	fmt.Fprintf(w, "took %d s.\n\n", int(f.took.Seconds()+0.5))
}
