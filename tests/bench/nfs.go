package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
)

const stockExportfs = "/usr/lib/ocf/resource.d/heartbeat/exportfs"

// exportfs measures the recurring monitor of ocf:heartbeat:exportfs and
// ocf:paceline:exportfs inside a DRBD guest running the kernel's NFS
// server (tests/drbdlab), started by ocf:paceline:nfsserver: each agent
// exports a directory of its own on the guest's ext4 disk, started by the
// agent itself, and is then monitored as pacemaker-execd does. The same
// guest then measures the monitors of ocf:heartbeat:nfsserver and
// ocf:paceline:nfsserver (nfsserver.go), also selected by -only nfs and
// -only nfsserver.
func (b *bench) exportfs() error { return b.withTB("exportfs", b.exportfsWith) }

func (b *bench) exportfsWith(t *benchTB) error {
	const section = "exportfs"
	fmt.Fprintf(b.log, "  %s\n", section)
	start := time.Now()
	ours := filepath.Join(b.tmp, "bin", "exportfs")
	p := drbdlab.StartPair(t, drbdlab.PairSpec{MemMiB: 384})
	g := p.A
	g.MustExec(t, "set -e; mkfs.ext4 -q -F /dev/vda; mkdir -p /srv/nfs; mount /dev/vda /srv/nfs; mkdir -p /srv/nfs/stock /srv/nfs/paceline /run/resource-agents")
	// The server, started by ocf:paceline:nfsserver: its monitor and the
	// stock one are measured in this guest too (nfsserver.go).
	info, err := b.startNFSServer(t, g)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.log, "    %s\n", info)
	f := &guestFigures{}
	check, err := b.checkCounting(t, g)
	if err != nil {
		return err
	}
	f.check = check
	agents := [2]string{stockExportfs, ours}
	envs := [2][]string{exportfsEnv("heartbeat", "/srv/nfs/stock", "11"), exportfsEnv("paceline", "/srv/nfs/paceline", "12")}
	for k := range agents {
		out, rc := g.Run(t, time.Minute, "cd / && env -i "+harness.ShellQuote(envs[k]...)+" OCF_RESKEY_CRM_meta_interval=0 "+
			harness.ShellQuote(agents[k], "start")+" 2>&1")
		if rc != 0 {
			return fmt.Errorf("exportfs: start of %s: exit %d: %s", agents[k], rc, out)
		}
	}
	if out := g.MustExec(t, "exportfs -v"); !strings.Contains(out, "/srv/nfs/stock") || !strings.Contains(out, "/srv/nfs/paceline") {
		return fmt.Errorf("exportfs: the two exports are not both there: %s", out)
	}
	waitNotifier(t, g)
	if err := b.guestRow(t, f, g, section, "monitor, exported (10s)", agents, envs, 0, [2]int{8, 8}); err != nil {
		return err
	}
	if err := b.nfsserverRows(t, g, check); err != nil {
		return err
	}
	f.took = time.Since(start)
	fmt.Fprintf(b.log, "    exportfs section: %v\n", f.took.Round(time.Second))
	b.exportfsFig = f
	return nil
}

// exportfsEnv is what pacemaker-execd gives a recurring monitor of an
// export of dir, with HA_RSCTMP where both agents record their start.
func exportfsEnv(provider, dir, fsid string) []string {
	return guestMonitorEnv("nfs_export_"+provider, "exportfs", provider,
		"OCF_RESKEY_directory="+dir, "OCF_RESKEY_clientspec=192.0.2.0/24",
		"OCF_RESKEY_options=rw,sync,no_root_squash", "OCF_RESKEY_fsid="+fsid)
}

// guestMonitorEnv is the environment pacemaker-execd gives a recurring
// monitor (every 10 s) of resource id, an OCF agent of the type and
// provider, on guest-a, with the resource's parameters; the agent logs
// to /run/TYPE-agent.log.
func guestMonitorEnv(id, typ, provider string, params ...string) []string {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESOURCE_INSTANCE=" + id, "OCF_RESOURCE_TYPE=" + typ, "OCF_RESOURCE_PROVIDER=" + provider,
		"OCF_RESKEY_crm_feature_set=3.16.2",
		"OCF_RESKEY_CRM_meta_name=monitor", "OCF_RESKEY_CRM_meta_interval=10000", "OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_CRM_meta_on_node=guest-a", "OCF_RESKEY_CRM_meta_on_node_uuid=1",
		"HA_RSCTMP=/run/resource-agents",
		"HA_LOGFACILITY=none", "HA_LOGFILE=/run/" + typ + "-agent.log", "PCMK_service=pacemaker-execd",
	}
	return append(env, params...)
}

func (b *bench) exportfsReport(w *strings.Builder) {
	f := b.exportfsFig
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\nexportfs: measured inside a qemu TCG guest, as the drbd rows are, with the kernel's NFS\n")
	fmt.Fprintf(w, "server running (started by ocf:paceline:nfsserver, whose rows are measured in the same guest\n")
	fmt.Fprintf(w, "after these) and each agent monitoring an export of its own that it started (the same\n")
	fmt.Fprintf(w, "parameters but the directory and fsid). The stock monitor runs exportfs and a sed and grep\n")
	fmt.Fprintf(w, "pipeline at every call; ours reads /var/lib/nfs/etab. Forks and execs counted as for drbd\n")
	fmt.Fprintf(w, "(%d of %d calls disagreed with /proc/stat); %s. The section, boot and nfsserver rows included, took %d s.\n\n",
		f.mismatch, f.calls, f.check, int(f.took.Seconds()+0.5))
}

// noForkTargets checks, for each row of an agent's guest figures, that
// paceline's monitor forked no process: the exportfs and nfsserver
// targets.
func (b *bench) noForkTargets(w *strings.Builder, agent string, f *guestFigures) {
	if f == nil {
		return
	}
	for i, r := range f.rows {
		name := agent + " " + r.scenario
		b.target(w, name+": no process forked", fmt.Sprintf("at most %d per call (stock: up to %d)", f.maxForks[i][1], f.maxForks[i][0]),
			f.maxForks[i][1] == 0)
	}
}
