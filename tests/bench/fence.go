package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/ipmi"
	"github.com/paceline-ha/paceline/tests/proc"
)

const stockFence = "/usr/sbin/fence_ipmilan"

// fenceFigures are the fence agent's rows and the bare ipmitool baseline.
type fenceFigures struct {
	status, monitor, reboot *row
	ipmitool                *measure
}

// fenceCall runs a fence agent once the way pacemaker-fenced does: no
// arguments, the parameters on stdin. wrap runs it under strace or time.
func fenceCall(path string, params map[string]string, wrap []string, want int) (sample, error) {
	return runMeasured(append(append([]string(nil), wrap...), path), ipmi.FenceStdin(params), nil, want)
}

func runMeasured(argv []string, stdin string, env []string, want int) (sample, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := proc.Command(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PCMK_service=pacemaker-fenced",
		"PCMK_logfacility=daemon", "HA_logfacility=daemon", "OCF_OUTPUT_FORMAT=log"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	code, exited := proc.ExitCode(err)
	if !exited {
		return s, err
	}
	if code != want {
		return s, fmt.Errorf("%s: exit %d, want %d: %s", strings.Join(argv, " "), code, want, out.String())
	}
	return s, nil
}

// fence measures fence_ipmilan and fence_paceline_ipmilan against one
// simulated BMC (ipmi_sim on the loopback), and bare ipmitool.
func (b *bench) fence() error { return b.withTB("fence", b.fenceWith) }

func (b *bench) fenceWith(t *benchTB) (err error) {
	const section = "fence_ipmilan"
	fmt.Fprintf(b.log, "  %s\n", section)
	bmc := ipmi.StartBMC(t, ipmi.BMCSpec{})
	params := bmc.FenceParams() // lanplus, cipher 3: the cipher given, as it must be
	ours := filepath.Join(filepath.Dir(b.o.bin), "paceline-fence")
	agents := [2]string{stockFence, filepath.Join(b.tmp, "bin", "fence_paceline_ipmilan")}
	if _, err := os.Stat(ours); err != nil {
		return fmt.Errorf("%s: %v (make build)", ours, err)
	}
	f := &fenceFigures{}
	cheap := func(name string, p map[string]string, want int) (*row, error) {
		fmt.Fprintf(b.log, "    %s\n", name)
		r := &row{section: section, scenario: name, stock: &measure{}, ours: &measure{}}
		const rounds = 4
		for round := 0; round < rounds; round++ {
			for k, a := range agents {
				if _, err := fenceCall(a, p, nil, want); err != nil { // warm-up
					return nil, err
				}
				for i := 0; i < (b.o.n+rounds-1)/rounds; i++ {
					s, err := fenceCall(a, p, nil, want)
					if err != nil {
						return nil, err
					}
					r.side(k).samples = append(r.side(k).samples, s)
				}
			}
		}
		return r, b.fenceExtras(r, agents, p, want)
	}
	if f.status, err = cheap("status", ipmi.With(params, "action", "status"), 0); err != nil {
		return err
	}
	if f.monitor, err = cheap("monitor", ipmi.With(params, "action", "monitor"), 0); err != nil {
		return err
	}

	// Bare ipmitool, as an administrator would run it: lanplus, cipher 3.
	fmt.Fprintf(b.log, "    ipmitool chassis power status\n")
	f.ipmitool = &measure{}
	argv := []string{"ipmitool", "-I", "lanplus", "-C", "3", "-H", bmc.Addr, "-p", params["ipport"],
		"-U", params["username"], "-E", "chassis", "power", "status"}
	for i := -1; i < b.o.n; i++ {
		s, err := runMeasured(argv, "", []string{"IPMI_PASSWORD=" + params["password"]}, 0)
		if err != nil {
			return err
		}
		if i >= 0 {
			f.ipmitool.samples = append(f.ipmitool.samples, s)
		}
	}

	// Reboot with the same waits (power_wait 2 s, the default).
	fmt.Fprintf(b.log, "    reboot\n")
	f.reboot = &row{section: section, scenario: "reboot (power_wait 2)", stock: &measure{}, ours: &measure{}}
	for i := 0; i < b.o.slow; i++ {
		for k, a := range agents {
			before := len(bmc.PowerEvents())
			s, err := fenceCall(a, ipmi.With(params, "action", "reboot"), nil, 0)
			if err != nil {
				return err
			}
			if ev := bmc.PowerEvents(); len(ev)-before != 2 || ev[len(ev)-2].On || !ev[len(ev)-1].On {
				return fmt.Errorf("%s reboot: the BMC did not see off then on (%d events)", a, len(ev)-before)
			}
			f.reboot.side(k).samples = append(f.reboot.side(k).samples, s)
		}
	}
	if err := b.fenceExtras(f.reboot, agents, ipmi.With(params, "action", "reboot"), 0); err != nil {
		return err
	}
	b.rows = append(b.rows, *f.status, *f.monitor, *f.reboot)
	b.fenceFig = f
	return nil
}

// fenceExtras counts the processes of one call (strace) and its peak RSS.
func (b *bench) fenceExtras(r *row, agents [2]string, p map[string]string, want int) error {
	trace := filepath.Join(b.tmp, "fence-trace")
	rss := filepath.Join(b.tmp, "fence-rss")
	for k, a := range agents {
		_ = os.Remove(trace)
		if _, err := fenceCall(a, p, []string{"strace", "-f", "-qq", "-e", "trace=execve,clone,clone3,fork,vfork", "-o", trace, "--"}, want); err != nil {
			return err
		}
		data, err := os.ReadFile(trace)
		if err != nil {
			return err
		}
		r.side(k).forks, r.side(k).execs = harness.ParseStrace(string(data))
		if _, err := fenceCall(a, p, []string{"/usr/bin/time", "-f", "%M", "-o", rss, "--"}, want); err != nil {
			return err
		}
		kb, err := os.ReadFile(rss)
		if err != nil {
			return err
		}
		if f := strings.Fields(string(kb)); len(f) > 0 {
			fmt.Sscan(f[len(f)-1], &r.side(k).rssKB)
		}
	}
	return nil
}

func (b *bench) fenceReport(w *strings.Builder) {
	f := b.fenceFig
	if f == nil {
		return
	}
	fmt.Fprintf(w, "\nfence_ipmilan: both agents get their parameters on stdin with `PCMK_service=pacemaker-fenced`, as\n")
	fmt.Fprintf(w, "pacemaker-fenced runs them, against one ipmi_sim BMC on the loopback (lanplus, cipher 3). Bare\n")
	fmt.Fprintf(w, "`ipmitool -I lanplus -C 3 ... chassis power status`: median wall %s ms, CPU %s ms.\n",
		ms(f.ipmitool.medianWall()), ms(f.ipmitool.medianCPU()))
}

func (b *bench) fenceTargets(w *strings.Builder) {
	f := b.fenceFig
	if f == nil {
		return
	}
	s := f.status
	wallX := float64(s.stock.medianWall()) / float64(max(s.ours.medianWall(), 1))
	cpuX := float64(s.stock.medianCPU()) / float64(max(s.ours.medianCPU(), 1))
	b.target(w, "fence_ipmilan status: at least 5x faster (wall)",
		fmt.Sprintf("%.1fx (%s vs %s ms)", wallX, ms(s.ours.medianWall()), ms(s.stock.medianWall())), wallX >= 5)
	b.target(w, "fence_ipmilan status: at least 10x less CPU",
		fmt.Sprintf("%.1fx (%s vs %s ms)", cpuX, ms(s.ours.medianCPU()), ms(s.stock.medianCPU())), cpuX >= 10)
	b.target(w, "fence_ipmilan status: no slower than bare ipmitool",
		fmt.Sprintf("%s vs %s ms", ms(s.ours.medianWall()), ms(f.ipmitool.medianWall())), s.ours.medianWall() <= f.ipmitool.medianWall())
}
