// Command drbddemo is "make demo-drbd": the replicated-storage cluster
// of the classic guides, with paceline's agents only, and a crash of its
// primary, shown with a timeline.
//
// Two qemu guests (the Debian kernel, with DRBD 8.4; this machine's
// userspace) run Corosync and Pacemaker as a two-node cluster. DRBD
// replicates over their own link; the cluster talks over a second one,
// where each guest also has a simulated BMC (ipmi_sim) whose power off
// kills the guest's qemu and whose power on boots it again. The demo
// configures with pcs ocf:paceline:drbd as a promotable clone, an ext4
// ocf:paceline:Filesystem and an ocf:paceline:IPaddr2 on the promoted
// node, and fence_paceline_ipmilan; it writes data, crashes the primary,
// and shows the fencing, the promotion of the survivor, the data checked
// by checksum, and the crashed node coming back and resyncing. It removes
// everything at the end (on Ctrl-C: the guests, the BMCs, the namespace
// and the files).
//
// With -nfs ("make demo-nfs") the group also runs paceline's nfsserver
// and two exportfs resources, and a third guest mounts the service
// through the floating address with NFSv3 and NFSv4.2, holds a lock on
// each and writes all the time; the demo shows the outage the client saw
// in the crash, that its locks are held again on the survivor, and that
// every write the server confirmed is there.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/pcmk"
	"github.com/paceline-ha/paceline/tests/proc"
)

var t0 = time.Now()

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m[%6.1f s] %s\033[0m\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
}

func say(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) }

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

var nfs = flag.Bool("nfs", false, "add the NFS service and a client that writes through the failover")

func main() {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo-drbd: needs root (qemu, network namespaces)")
		os.Exit(1)
	}
	// Everything the harness writes (disks, consoles, BMC state, CIB
	// files) goes under one directory of this run, removed at the end.
	dir, err := os.MkdirTemp("", "pl-demo-drbd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", dir)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		done <- harness.WithScriptTB("demo-drbd", os.Stdout, dir, demo)
	}()
	code := 0
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	case <-stop:
		// The demo's cleanups cannot run from here; qemu and ipmi_sim
		// die with this process (parent-death signal), the namespace
		// and the files go now.
		fmt.Fprintln(os.Stderr, "demo-drbd: interrupted; removing the guests")
		_ = proc.Command(context.Background(), "ip", "netns", "del", drbdlab.NS()).Run()
		code = 130
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func demo(t *harness.ScriptTB) error {
	step("booting two qemu guests (TCG) with Corosync and Pacemaker, a BMC each")
	say("DRBD link 192.0.2.11 <-> 192.0.2.12 (eth0); cluster network %s.0/24 (eth1): guests .11 .12, BMCs .201 .202, floating IP %s",
		drbdlab.LAN, drbdlab.VIP)
	if *nfs {
		say("and a client guest on the cluster network, %s", drbdlab.ClientIP)
	}
	spec := drbdlab.ClusterSpec{Log: say}
	if *nfs {
		spec.Client, spec.BootDelay = true, drbdlab.ServerBootDelay
	}
	c := drbdlab.StartCluster(t, spec)

	step("DRBD resource r0 on /dev/vda of each guest, fencing resource-only with Pacemaker's handlers")
	say("%s", indent(drbdlab.ServicesResource(false).Text()))
	step("configuring the cluster with pcs")
	for _, argv := range append(c.Fencing(), drbdlab.ServicesPCS()...) {
		line := strings.Join(argv, " ")
		for _, f := range argv {
			if strings.HasPrefix(f, "password=") {
				line = strings.Replace(line, f, "password=...", 1)
			}
		}
		say("# pcs %s", line)
	}
	p := c.SetupServices(t)
	var writers []*drbdlab.NFSWriter
	if *nfs {
		step("adding the NFS server and its exports to the group, before the address")
		for _, argv := range drbdlab.NFSPCS() {
			say("# pcs %s", strings.Join(argv, " "))
		}
		c.SetupNFS(t, p)
		step("the client mounts %s with NFSv3 and NFSv4.2, locks a file on each and writes every 0.2 s (fsync each time)", drbdlab.VIP)
		c.MountNFS(t)
		writers = []*drbdlab.NFSWriter{c.StartNFSWriter(t, "v3"), c.StartNFSWriter(t, "v4")}
		out, _ := c.Client.Run(t, time.Minute, "mount -t nfs,nfs4 | cut -d' ' -f1-5")
		fmt.Println(indent(out))
	}
	out, _ := c.Guest(p).Run(t, time.Minute, "crm_mon -1 -r")
	fmt.Println(indent(out))

	step("writing data on the primary, %s, and waiting until DRBD has it on both sides", c.Guest(p).Name())
	cr := c.CrashPrimary(t, p, "demo-data")
	s := cr.Survivor
	say("crashed %s (its qemu killed) at %s; services running on %s %.1f s later",
		c.Guest(p).Name(), cr.At.Format("15:04:05.000"), c.Guest(s).Name(), cr.Recovered.Seconds())

	if at, err := c.VIPAnswerer(); err == nil {
		say("%s answers ARP from %s", drbdlab.VIP, c.Guest(at).Name())
	} else {
		t.Errorf("%v", err)
	}

	step("timeline, from %s's pacemaker log and the BMCs", c.Guest(s).Name())
	pcmk.PrintTimeline(os.Stdout, cr.At, c.Timeline(cr.At))
	if *nfs {
		step("what the NFS client saw")
		for _, w := range writers {
			o := w.Outage(t, cr.At)
			say("NFS%s: last write %+.2f s, first write after the crash %+.2f s: the client waited %.1f s",
				strings.TrimPrefix(w.Tag, "v"), o.Last.Sub(cr.At).Seconds(), o.First.Sub(cr.At).Seconds(), o.First.Sub(o.Last).Seconds())
		}
		say("locks held by the client's NFSv3 and NFSv4 mounts on %s:", c.Guest(s).Name())
		c.WaitLocks(t, s, writers, 2*time.Minute)
		out, _ := c.Guest(s).Run(t, time.Minute, "grep POSIX /proc/locks")
		fmt.Println(indent(out))
		for _, w := range writers {
			sum := w.Stop(t)
			got := c.Checksum(t, s, strings.TrimPrefix(w.Data(), "/srv/data/"))
			say("%s: the writes the server confirmed to the client %s, on %s %s", w.Data(), sum[:16], c.Guest(s).Name(), got[:min(16, len(got))])
			if got != sum {
				t.Errorf("%s differs on %s", w.Data(), c.Guest(s).Name())
			}
		}
	}

	step("the data on %s", c.Guest(s).Name())
	got := c.Checksum(t, s, cr.File)
	say("sha256 written on %s: %s", c.Guest(p).Name(), cr.Sum)
	say("sha256 read on %s:    %s", c.Guest(s).Name(), got)
	if got != cr.Sum {
		t.Fatalf("the data differs on the survivor")
	}
	out, _ = c.Guest(s).Run(t, time.Minute, "stonith_admin --history "+c.Guest(p).Name()+"; drbdadm role r0; drbdadm dstate r0")
	fmt.Println(indent(out))

	step("%s boots again (its BMC's power on), rejoins, and DRBD resyncs it", c.Guest(p).Name())
	if err := c.WaitReady(4 * time.Minute); err != nil {
		t.Fatalf("%v", err)
	}
	c.WaitSynced(t, 3*time.Minute)
	out, _ = c.Guest(s).Run(t, time.Minute, "crm_mon -1 -r; echo; drbdadm cstate r0; drbdadm dstate r0")
	fmt.Println(indent(out))
	step("done: removing the guests, the BMCs and the network")
	if t.Failed() {
		return fmt.Errorf("demo-drbd: a check failed (see above)")
	}
	return nil
}
