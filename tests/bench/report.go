package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/tests/proc"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

func ratio(ours, stock time.Duration) string {
	if stock <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(ours)/float64(stock))
}

func (b *bench) report() string {
	var w strings.Builder
	kernel, _ := proc.Command(context.Background(), "uname", "-r").Output()
	ra, _ := proc.Command(context.Background(), "dpkg-query", "-W", "-f=${Version}", "resource-agents").Output()
	ver, _ := proc.Command(context.Background(), b.o.bin, "version").Output()
	fmt.Fprintf(&w, "# Benchmarks\n\n")
	fmt.Fprintf(&w, "Written by `make bench` on %s: the stock agents (resource-agents %s) and %s, side by\n",
		time.Now().UTC().Format("2006-01-02"), strings.TrimSpace(string(ra)), strings.TrimSpace(string(ver)))
	fmt.Fprintf(&w, "side in one run, in the same network namespace, with the same parameters and a\n")
	fmt.Fprintf(&w, "Pacemaker-shaped environment. %d CPUs, kernel %s, Go %s.\n\n",
		runtime.NumCPU(), strings.TrimSpace(string(kernel)), runtime.Version())
	fmt.Fprintf(&w, "Per call: median wall time and median CPU time (user+sys of the agent and the\n")
	fmt.Fprintf(&w, "children it waited for), over %d calls per monitor/meta-data scenario (four rounds of\n", b.o.n)
	fmt.Fprintf(&w, "consecutive calls per agent after one discarded warm-up call, the agents taking\n")
	fmt.Fprintf(&w, "turns) and %d per start/stop scenario\n", b.o.slow)
	fmt.Fprintf(&w, "(start and stop alternating, the agents taking turns); processes forked and\n")
	fmt.Fprintf(&w, "programs executed in one extra call under `strace -f` (background children\n")
	fmt.Fprintf(&w, "included); peak RSS of one call under GNU time (`%%M`). Ratio = paceline / stock.\n\n")
	section := ""
	for _, r := range b.rows {
		if r.section != section {
			section = r.section
			fmt.Fprintf(&w, "\n## %s\n\n", section)
			fmt.Fprintf(&w, "| scenario | wall stock ms | wall paceline ms | CPU stock ms | CPU paceline ms | CPU ratio | forks stock | forks paceline | execs stock | execs paceline | RSS stock MiB | RSS paceline MiB |\n")
			fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s | %d | %d | %d | %d | %.1f | %.1f |\n",
			r.scenario, ms(r.stock.medianWall()), ms(r.ours.medianWall()),
			ms(r.stock.medianCPU()), ms(r.ours.medianCPU()), ratio(r.ours.medianCPU(), r.stock.medianCPU()),
			r.stock.forks, r.ours.forks, r.stock.execs, r.ours.execs,
			float64(r.stock.peakRSS())/1024, float64(r.ours.peakRSS())/1024)
	}
	dad := median(toSamples(b.dad), func(s sample) time.Duration { return s.wall })
	fmt.Fprintf(&w, "\nIPaddr2: kernel duplicate address detection alone (add over netlink until the tentative flag\n")
	fmt.Fprintf(&w, "clears, `router_solicitation_delay` 0 in the bench namespace so it does not vary): median %s ms.\n\n", ms(dad))

	b.migrationReport(&w)
	b.fenceReport(&w)
	b.drbdReport(&w)
	b.exportfsReport(&w)
	b.nfsserverReport(&w)
	b.clusterReport(&w)

	floor := median(toSamples(b.floor), func(s sample) time.Duration { return s.wall })
	fmt.Fprintf(&w, "Starting the paceline binary and doing nothing (`paceline version`) costs %s ms CPU\n", ms(floor))
	fmt.Fprintf(&w, "(median of %d, measured at the end of the run): the Go runtime's start, which every\n", len(b.floor))
	fmt.Fprintf(&w, "call pays before any agent code runs. Machine load drifts during a run by a few tenths\n")
	fmt.Fprintf(&w, "of a millisecond, so this figure can come out above a monitor measured earlier.\n\n")
	fmt.Fprintf(&w, "## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	for _, r := range b.rows {
		name := r.section + " " + r.scenario
		if r.cheap {
			s, o := r.stock.medianCPU(), r.ours.medianCPU()
			factor := 0.0
			if o > 0 {
				factor = float64(s) / float64(o)
			}
			b.target(&w, name+": at least 20x less CPU", fmt.Sprintf("%.1fx less (%s vs %s ms)", factor, ms(o), ms(s)), factor >= 20)
			b.target(&w, name+": no process forked", fmt.Sprintf("%d forks", r.ours.forks), r.ours.forks == 0)
		}
		if r.faster {
			s, o := r.stock.medianWall(), r.ours.medianWall()
			b.target(&w, name+": faster than stock", fmt.Sprintf("%s vs %s ms", ms(o), ms(s)), o < s)
		}
		if r.section == "IPaddr2" && r.scenario == "start IPv6" {
			o := r.ours.medianWall()
			b.target(&w, "IPaddr2 start IPv6: no longer than DAD + 0.2 s",
				fmt.Sprintf("%s ms vs DAD %s ms (+%s ms)", ms(o), ms(dad), ms(o-dad)), o <= dad+200*time.Millisecond)
		}
	}
	b.migrationTarget(&w)
	b.fenceTargets(&w)
	b.drbdTargets(&w)
	b.noForkTargets(&w, "exportfs", b.exportfsFig)
	b.noForkTargets(&w, "nfsserver", b.nfsserverFig)
	return w.String()
}

func (b *bench) target(w *strings.Builder, name, measured string, ok bool) {
	mark := "yes"
	if !ok {
		mark = "**no**"
		b.failed = append(b.failed, name)
	}
	fmt.Fprintf(w, "| %s | %s | %s |\n", name, measured, mark)
}

func toSamples(d []time.Duration) []sample {
	s := make([]sample, len(d))
	for i := range d {
		s[i] = sample{wall: d[i]}
	}
	return s
}
