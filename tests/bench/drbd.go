package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paceline-ha/paceline/tests/drbdlab"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/proc"
)

const stockDRBD = "/usr/lib/ocf/resource.d/linbit/drbd"

// guestFigures are what the targets of a section measured in the DRBD
// guests (drbd, exportfs) need beyond the rows: the fork count of every
// measured call (the rows hold the medians), the check of the fork
// counting, and the length of the section.
type guestFigures struct {
	rows     []*row
	maxForks [][2]int // per row: the most processes one call of stock, ours forked
	noexec   [][2]int // per row: the most of them that executed no program
	check    string   // how the counting was validated, for the note
	calls    int      // measured calls
	mismatch int      // calls where /proc/stat and the connector disagree
	took     time.Duration
}

// guestCall is one call measured in a guest by guestMeasure.
type guestCall struct {
	sample
	rc                    int
	forks, execs, threads int
	others, statDelta     int
	noexec                int
	out                   string
}

// drbd measures the recurring monitor of ocf:linbit:drbd and
// ocf:paceline:drbd inside two qemu TCG guests running DRBD 8.4
// (tests/drbdlab): the same guest, the same resource, the
// same Pacemaker-shaped environment and the same CIB file written by the
// real crm_attribute.
func (b *bench) drbd() error { return b.withTB("drbd", b.drbdWith) }

func (b *bench) drbdWith(t *benchTB) error {
	const section = "drbd"
	fmt.Fprintf(b.log, "  %s\n", section)
	start := time.Now()
	ours := filepath.Join(b.tmp, "bin", "drbd") // the link to b.o.bin, seen at the same path in the guests
	p := drbdlab.StartPair(t, drbdlab.PairSpec{})
	p.WriteResource(t, "r0", drbdlab.Resource{Name: "r0"}.Text())
	p.UpConnected(t, "r0")
	a := p.A
	a.MustExec(t, "drbdadm primary r0")
	for _, g := range p.Guests() {
		// crm_attribute (CIB_file) really writes the scores, as in
		// tests/drbd.
		g.SetupCIB(t)
	}
	f := &guestFigures{}

	check, err := b.checkCounting(t, a)
	if err != nil {
		return err
	}
	f.check = check

	for _, sc := range []struct {
		name     string
		guest    int
		interval time.Duration
		role     string
		want     int
	}{
		{"monitor Primary (10s, Promoted)", 0, 10 * time.Second, "Promoted", 8},
		{"monitor Secondary (20s)", 1, 20 * time.Second, "", 0},
	} {
		g := p.Guest(sc.guest)
		envs := [2][]string{drbdEnv(g.Name(), "linbit", sc.interval, sc.role), drbdEnv(g.Name(), "paceline", sc.interval, sc.role)}
		// The stock monitor takes 1.5-3 s under TCG: fewer of its calls.
		if err := b.guestRow(t, f, g, section, sc.name, [2]string{stockDRBD, ours}, envs, sc.want, [2]int{4, 8}); err != nil {
			return err
		}
	}
	f.took = time.Since(start)
	fmt.Fprintf(b.log, "    drbd section: %v\n", f.took.Round(time.Second))
	b.drbdFig = f
	return nil
}

// checkCounting checks the fork counting in guest g with a command known
// to fork exactly two processes (bash runs two external programs, then a
// builtin, so it execs neither in place) and to execute three programs,
// and says so for the report's note.
func (b *bench) checkCounting(t *benchTB, g *drbdlab.Guest) (string, error) {
	check, err := b.measureIn(t, g, nil, []string{"/bin/bash", "-c", "/bin/true; /bin/true; :"}, 3)
	if err != nil {
		return "", err
	}
	others := 0
	for _, c := range check {
		if c.rc != 0 || c.forks != 2 || c.execs != 3 || c.threads != 0 || c.statDelta != 1+c.forks+c.threads+c.others {
			return "", fmt.Errorf("fork counting is off: bash running two programs gave %d forks, %d execs, %d threads, %d other tasks, /proc/stat +%d",
				c.forks, c.execs, c.threads, c.others, c.statDelta)
		}
		others = max(others, c.others)
	}
	return fmt.Sprintf("a command forking exactly 2 processes (`bash -c '/bin/true; /bin/true; :'`) counted 2 in each of %d calls, with at most %d other task(s) created in the guest during a call", len(check), others), nil
}

// guestRow measures the monitor of both agents in guest g, with their
// environments, as one row of section: rounds of one block per agent,
// the agents taking turns, each block after one discarded warm-up call
// (for drbd, the call that publishes the score and its cache: see the
// note); per is how many calls of each a block measures. Every call must
// exit want. Then one more call of each under GNU time, for the peak RSS
// (not a child of the measuring Go process, whose high-water mark it
// would inherit).
func (b *bench) guestRow(t *benchTB, f *guestFigures, g *drbdlab.Guest, section, name string, agents [2]string, envs [2][]string, want int, per [2]int) error {
	fmt.Fprintf(b.log, "    %s\n", name)
	r := &row{section: section, scenario: name, stock: &measure{}, ours: &measure{}}
	var forks, execs, noexec [2][]int
	const rounds = 3
	for round := 0; round < rounds; round++ {
		for k := range agents {
			calls, err := b.measureIn(t, g, envs[k], []string{agents[k], "monitor"}, 1+per[k])
			if err != nil {
				return err
			}
			for i, c := range calls {
				if c.rc != want {
					return fmt.Errorf("%s %s: %s monitor on %s: exit %d, want %d: %s", section, name, agents[k], g.Name(), c.rc, want, c.out)
				}
				if i == 0 {
					continue
				}
				f.calls++
				if c.statDelta != 1+c.forks+c.threads+c.others {
					f.mismatch++
					fmt.Fprintf(b.log, "    note: a call of %s: /proc/stat +%d, proc connector 1+%d+%d+%d\n",
						agents[k], c.statDelta, c.forks, c.threads, c.others)
				}
				r.side(k).samples = append(r.side(k).samples, c.sample)
				forks[k] = append(forks[k], c.forks)
				execs[k] = append(execs[k], c.execs)
				noexec[k] = append(noexec[k], c.noexec)
			}
		}
	}
	var mx, ne [2]int
	for k := range agents {
		r.side(k).forks, r.side(k).execs = medianInt(forks[k]), medianInt(execs[k])
		for i, v := range forks[k] {
			mx[k] = max(mx[k], v)
			ne[k] = max(ne[k], noexec[k][i])
		}
		fmt.Fprintf(b.log, "      %s: forks %v execs %v, forks without exec %v\n", [2]string{"stock", "paceline"}[k], forks[k], execs[k], noexec[k])
		out, rc := g.Run(t, 60*time.Second, "cd / && env -i "+harness.ShellQuote(envs[k]...)+" /usr/bin/time -f %M -o /run/plbench-rss "+
			harness.ShellQuote(agents[k], "monitor")+" >/dev/null 2>&1; echo rc=$?; cat /run/plbench-rss")
		if rc != 0 || !strings.Contains(out, fmt.Sprintf("rc=%d\n", want)) {
			return fmt.Errorf("%s %s: %s monitor under time: %q", section, name, agents[k], out)
		}
		if fl := strings.Fields(out); len(fl) > 0 {
			fmt.Sscan(fl[len(fl)-1], &r.side(k).rssKB)
		}
	}
	f.rows = append(f.rows, r)
	f.maxForks = append(f.maxForks, mx)
	f.noexec = append(f.noexec, ne)
	b.rows = append(b.rows, *r)
	return nil
}

// drbdEnv is what pacemaker-execd gives a recurring monitor of the
// promotable clone p_drbd (clone-max 2, promoted-max 1, notify true; both
// the old master_* and the new promoted_* names), plus the guest's CIB
// file for crm_attribute and HA_RSCTMP, where ours keeps its score cache.
func drbdEnv(node, provider string, interval time.Duration, role string) []string {
	uuid := map[string]string{"guest-a": "1", "guest-b": "2"}[node]
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"OCF_ROOT=/usr/lib/ocf", "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RESOURCE_INSTANCE=p_drbd", "OCF_RESOURCE_TYPE=drbd", "OCF_RESOURCE_PROVIDER=" + provider,
		"OCF_RESKEY_drbd_resource=r0",
		"OCF_RESKEY_crm_feature_set=3.16.2",
		"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1",
		"OCF_RESKEY_CRM_meta_master_max=1", "OCF_RESKEY_CRM_meta_master_node_max=1",
		"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1",
		"OCF_RESKEY_CRM_meta_notify=true", "OCF_RESKEY_CRM_meta_globally_unique=false",
		"OCF_RESKEY_CRM_meta_name=monitor",
		"OCF_RESKEY_CRM_meta_interval=" + strconv.FormatInt(interval.Milliseconds(), 10),
		"OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_CRM_meta_on_node=" + node, "OCF_RESKEY_CRM_meta_on_node_uuid=" + uuid,
		"CIB_file=/run/cib.xml", "HA_RSCTMP=/run/resource-agents",
		// No syslog in the guests: the log goes to a file, for both.
		"HA_LOGFACILITY=none", "HA_LOGFILE=/run/drbd-agent.log", "PCMK_service=pacemaker-execd",
	}
	if role != "" {
		env = append(env, "OCF_RESKEY_CRM_meta_role="+role)
	}
	return env
}

// measureIn runs argv n times in g, one after the other, through this
// very binary (-guest-measure, seen in the guest at the same path) with
// exactly env, and returns the calls.
func (b *bench) measureIn(t *benchTB, g *drbdlab.Guest, env, argv []string, n int) ([]guestCall, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	script := "cd / && env -i " + harness.ShellQuote(env...) + " " + harness.ShellQuote(self, "-guest-measure", strconv.Itoa(n), "--") + " " + harness.ShellQuote(argv...)
	out, rc := g.Run(t, time.Duration(n)*15*time.Second+30*time.Second, script)
	if rc != 0 {
		return nil, fmt.Errorf("drbd: %s: -guest-measure on %s: exit %d: %s", strings.Join(argv, " "), g.Name(), rc, out)
	}
	var calls []guestCall
	for _, line := range strings.Split(out, "\n") {
		fl := strings.Fields(line)
		if len(fl) < 10 || fl[0] != "call" {
			continue
		}
		var v [9]int64
		for i := range v {
			if v[i], err = strconv.ParseInt(fl[i+1], 10, 64); err != nil {
				return nil, fmt.Errorf("drbd: -guest-measure line %q: %v", line, err)
			}
		}
		c := guestCall{sample: sample{wall: time.Duration(v[0]), cpu: time.Duration(v[1])}, rc: int(v[2]),
			forks: int(v[3]), execs: int(v[4]), threads: int(v[5]), others: int(v[6]), statDelta: int(v[7]), noexec: int(v[8])}
		if q := strings.Join(fl[10:], " "); q != "" {
			c.out, _ = strconv.Unquote(q)
		}
		calls = append(calls, c)
	}
	if len(calls) != n {
		return nil, fmt.Errorf("drbd: %s: -guest-measure on %s: %d calls of %d: %s", strings.Join(argv, " "), g.Name(), len(calls), n, out)
	}
	return calls, nil
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := append([]int(nil), v...)
	sort.Ints(s)
	return s[len(s)/2]
}

// guestMeasure is the hidden -guest-measure mode, run inside a DRBD guest:
// it runs argv n times, one after the other, with this process's
// environment, and prints one line per call:
//
//	call WALL_NS CPU_NS RC FORKS EXECS THREADS OTHERS STATDELTA NOEXEC "OUTPUT"
//
// CPU is user+sys from the wait status, which includes every descendant
// the command waited for (all of them, for a monitor).
//
// Processes are counted with the kernel's process events connector
// (NETLINK_CONNECTOR, CN_IDX_PROC), which reports every task created and
// every exec, with its parent, as it happens: FORKS is the number of new
// processes (not threads) whose parent is the command or one of its
// descendants, EXECS the programs executed by the command and its
// descendants (the command's own exec included, as strace counts it),
// THREADS the threads they created, OTHERS the tasks created elsewhere in
// the guest during the call. The "processes" line of /proc/stat alone
// would not do: it counts threads too (a Go program such as ours starts
// several at every run, a different number each time), and anything else
// the guest does. STATDELTA is still recorded, as a check that the
// connector lost nothing: it must equal 1 (this process's own fork of the
// command) + FORKS + THREADS + OTHERS. The guest runs nothing but its
// control agent (bash, idle in read -t while a command runs) and kernel
// threads, and has one CPU, so OTHERS is normally 0 (or 1 in the first
// call: this process's own pidfd probe, see NOEXEC). NOEXEC is the
// number of those processes that executed no program: a Go program's
// os/exec (Go 1.23 and later) probes clone(CLONE_PIDFD) once per process,
// at its first child, with a child that exits at once.
func guestMeasure(n int, argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "-guest-measure: no command")
		return 2
	}
	w, err := listenProcEvents()
	if err != nil {
		fmt.Fprintln(os.Stderr, "-guest-measure:", err)
		return 1
	}
	defer syscall.Close(w)
	outName := "/run/plbench-call.out"
	for i := 0; i < n; i++ {
		out, err := os.Create(outName)
		if err != nil {
			fmt.Fprintln(os.Stderr, "-guest-measure:", err)
			return 1
		}
		cmd := proc.Command(context.Background(), argv[0], argv[1:]...)
		// Exactly the environment this process was given (env -i ...):
		// what the agent sees is part of what is measured.
		cmd.Env = os.Environ()
		cmd.Stdout, cmd.Stderr = out, out
		if err := drainProcEvents(w, nil); err != nil {
			fmt.Fprintln(os.Stderr, "-guest-measure:", err)
			return 1
		}
		s0, err := statProcesses()
		if err != nil {
			fmt.Fprintln(os.Stderr, "-guest-measure:", err)
			return 1
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "-guest-measure:", err)
			return 1
		}
		err = cmd.Wait()
		wall := time.Since(start)
		s1, _ := statProcesses()
		out.Close()
		rc, exited := proc.ExitCode(err)
		if !exited {
			fmt.Fprintln(os.Stderr, "-guest-measure:", err)
			return 1
		}
		// The events arrive in the order the tasks were created (the
		// connector sends them from copy_process and exec), so a parent
		// is known before its children.
		tree := map[uint32]bool{uint32(cmd.Process.Pid): true}
		self := uint32(os.Getpid())
		var forks, execs, threads, others int
		execed := map[uint32]bool{}
		err = drainProcEvents(w, func(e procEvent) {
			switch {
			case e.exec:
				if tree[e.tgid] {
					execs++
					execed[e.tgid] = true
				}
			case e.childPid != e.childTgid: // a thread: its parent fields are the process's parent
				if tree[e.childTgid] {
					threads++
				} else {
					others++ // this process's runtime threads among them
				}
			case tree[e.parentTgid]:
				tree[e.childTgid] = true
				forks++
			case e.parentTgid == self && e.childTgid == uint32(cmd.Process.Pid):
				// this process's fork of the command
			default:
				others++
			}
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "-guest-measure:", err)
			return 1
		}
		noexec := 0 // forked processes that executed no program
		for pid := range tree {
			if !execed[pid] {
				noexec++
			}
		}
		text, _ := os.ReadFile(outName)
		if len(text) > 400 {
			text = text[len(text)-400:]
		}
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		fmt.Printf("call %d %d %d %d %d %d %d %d %d %s\n", wall.Nanoseconds(), cpu.Nanoseconds(), rc,
			forks, execs, threads, others, s1-s0, noexec, strconv.Quote(string(text)))
	}
	_ = os.Remove(outName)
	return 0
}

// statProcesses reads the number of tasks created since boot.
func statProcesses() (int64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "processes "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no processes line in /proc/stat")
}

// The process events connector (linux/cn_proc.h, linux/connector.h).
const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procEventFork      = 0x1
	procEventExec      = 0x2
	cnMsgLen           = 20 // struct cn_msg without data
	procEventHeaderLen = 16 // what, cpu, timestamp_ns
)

type procEvent struct {
	exec                bool
	parentTgid          uint32
	childPid, childTgid uint32
	tgid                uint32 // exec
}

// listenProcEvents subscribes to the process events (root only).
func listenProcEvents() (int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_CONNECTOR)
	if err != nil {
		return -1, fmt.Errorf("netlink connector: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("netlink connector: bind: %v", err)
	}
	// Room for every event of a call: a lost one would be reported
	// (ENOBUFS), not miscounted.
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 8<<20)
	msg := make([]byte, syscall.NLMSG_HDRLEN+cnMsgLen+4)
	le := binary.LittleEndian // x86
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], syscall.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	c := msg[syscall.NLMSG_HDRLEN:]
	le.PutUint32(c[0:], cnIdxProc)
	le.PutUint32(c[4:], cnValProc)
	le.PutUint16(c[16:], 4)
	le.PutUint32(c[cnMsgLen:], procCnMcastListen)
	if err := syscall.Sendto(fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("netlink connector: listen: %v", err)
	}
	return fd, nil
}

// drainProcEvents reads the queued events without waiting and gives the
// fork and exec ones to f (nil: discard them).
func drainProcEvents(fd int, f func(procEvent)) error {
	buf := make([]byte, 64<<10)
	le := binary.LittleEndian
	for {
		n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_DONTWAIT)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return nil
		case err == syscall.ENOBUFS:
			return errors.New("process events lost (ENOBUFS)")
		case err != nil:
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			d := m.Data
			if f == nil || len(d) < cnMsgLen+procEventHeaderLen+16 {
				continue
			}
			ev := d[cnMsgLen:]
			data := ev[procEventHeaderLen:]
			switch le.Uint32(ev[0:]) {
			case procEventFork:
				f(procEvent{parentTgid: le.Uint32(data[4:]), childPid: le.Uint32(data[8:]), childTgid: le.Uint32(data[12:])})
			case procEventExec:
				f(procEvent{exec: true, tgid: le.Uint32(data[4:])})
			}
		}
	}
}

func (b *bench) drbdReport(w *strings.Builder) {
	f := b.drbdFig
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\ndrbd: measured inside a qemu TCG guest (one emulated CPU: times are several times a real\n")
	fmt.Fprintf(w, "machine's) with the Debian kernel's DRBD 8.4.11 and this machine's drbd-utils, resource r0\n")
	fmt.Fprintf(w, "Connected and UpToDate between two such guests, guest-a Primary. Both agents get the same\n")
	fmt.Fprintf(w, "environment (promotable clone: clone-max 2, promoted-max 1, notify) and write the promotion\n")
	fmt.Fprintf(w, "score with the same real crm_attribute into a CIB file of the guest's (`CIB_file`); the stock\n")
	fmt.Fprintf(w, "agent through crm_master at every monitor. Ours re-asserts its score through crm_attribute\n")
	fmt.Fprintf(w, "once a minute (a cache in HA_RSCTMP), so a steady monitor runs only drbdsetup; the\n")
	fmt.Fprintf(w, "warm-up call before each block, not measured, is the one that writes it. Every call is run and\n")
	fmt.Fprintf(w, "measured by a process in the guest: CPU is user+sys of the agent and every child it waited for;\n")
	fmt.Fprintf(w, "forks and execs are medians per call, counted with the kernel's process events connector\n")
	fmt.Fprintf(w, "(processes, not threads, created by the agent and its descendants; execs include the agent's\n")
	fmt.Fprintf(w, "own) and checked against the `processes` line of /proc/stat (%d of %d calls disagreed); %s.\n",
		f.mismatch, f.calls, f.check)
	if ne := f.noexec[0][1]; ne > 0 {
		fmt.Fprintf(w, "Of ours' forks, %d per call executes no program: Go's os/exec (Go 1.23 and later) checks once per\n", ne)
		fmt.Fprintf(w, "process that clone(CLONE_PIDFD) works, with a vfork-style child that exits at once.\n")
	}
	fmt.Fprintf(w, "The stock agent's calls are fewer (%d per row) than ours (%d): one takes seconds here. The whole\n",
		len(f.rows[0].stock.samples), len(f.rows[0].ours.samples))
	fmt.Fprintf(w, "drbd section, boot of the guests included, took %d s.\n\n", int(f.took.Seconds()+0.5))
}

func (b *bench) drbdTargets(w *strings.Builder) {
	f := b.drbdFig
	if f == nil {
		return
	}
	for i, r := range f.rows {
		name := "drbd " + r.scenario
		s, o := r.stock.medianCPU(), r.ours.medianCPU()
		factor := float64(s) / float64(max(o, 1))
		b.target(w, name+": at least 10x less CPU", fmt.Sprintf("%.1fx less (%s vs %s ms)", factor, ms(o), ms(s)), factor >= 10)
		m := fmt.Sprintf("at most %d per call (stock: up to %d)", f.maxForks[i][1], f.maxForks[i][0])
		if ne := f.noexec[i][1]; ne > 0 {
			m = fmt.Sprintf("at most %d per call, %d of them Go's pidfd probe (stock: up to %d)", f.maxForks[i][1], ne, f.maxForks[i][0])
		}
		b.target(w, name+": at most 1 process forked per call", m, f.maxForks[i][1] <= 1)
	}
}
