package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/guestimage"
	"github.com/paceline-ha/paceline/tests/harness"
	"github.com/paceline-ha/paceline/tests/libvirthost"
)

// vdDowntime is the measured downtime of the migrations, per agent.
type migration struct {
	downtime [2][]time.Duration
	max      time.Duration // migration_downtime
}

// virtualdomain measures VirtualDomain against two private libvirt
// daemons running a small TCG guest.
func (b *bench) virtualdomain() error {
	return b.withTB("VirtualDomain", b.virtualdomainWith)
}

// withTB runs a scenario that uses the test harness: a fatal error of the
// harness ends it with an error, and its cleanups run at the end.
func (b *bench) withTB(name string, fn func(t *benchTB) error) error {
	return harness.WithScriptTB(name, b.log, b.tmp, fn)
}

// benchTB is the harness's testing.TB for programs.
type benchTB = harness.ScriptTB

func (b *bench) virtualdomainWith(t *benchTB) error {
	b.typ, b.inst = "VirtualDomain", "vm"
	hosts := libvirthost.Start(t, 2)
	n1, n2 := hosts[0], hosts[1]
	img := guestimage.Tiny(t)
	name := fmt.Sprintf("plbench%d", os.Getpid())
	cfgDir := filepath.Join(b.tmp, "vd")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(cfgDir, name+".xml")
	if err := os.WriteFile(cfg, []byte(img.DomainXML(guestimage.Domain{Name: name})), 0o644); err != nil {
		return err
	}
	params := map[string]string{"config": cfg, "hypervisor": n1.URI}
	ours := b.impls[1]
	monitor := func(want ocf.Status) op {
		return op{action: "monitor", params: params, interval: 10 * time.Second, want: want}
	}
	forced := map[string]string{"config": cfg, "hypervisor": n1.URI, "force_stop": "true"}

	if err := b.pair("meta-data", b.o.n, op{action: "meta-data"}, false); err != nil {
		return err
	}
	n1.Virsh(t, "define", cfg)
	if err := b.pair("monitor, defined, not running", b.o.n, monitor(ocf.NotRunning), true); err != nil {
		return err
	}
	if err := b.expect(ours, op{action: "start", params: params}, ocf.Success); err != nil {
		return err
	}
	if err := b.pair("monitor, running", b.o.n, monitor(ocf.Success), true); err != nil {
		return err
	}
	if err := b.pair("probe, running", b.o.n, op{action: "monitor", params: params, want: ocf.Success}, true); err != nil {
		return err
	}
	if err := b.expect(ours, op{action: "stop", params: forced}, ocf.Success); err != nil {
		return err
	}
	if err := b.cycle(b.o.slow, []string{"start", "stop (force_stop)"}, []op{
		{action: "start", params: params, want: ocf.Success},
		{action: "stop", params: forced, want: ocf.Success},
	}, []bool{false, false}); err != nil {
		return err
	}
	return b.migrate(t, n1, n2, name, cfg)
}

func (b *bench) expect(im impl, o op, want ocf.Status) error {
	res, err := b.call(im, o, nil)
	if err != nil {
		return err
	}
	if res.Code != want {
		return fmt.Errorf("%s %s %s: exit %d (%s): %s", im.name, b.typ, o.action, res.Code, res.Reason, res.Stderr)
	}
	return nil
}

var downtimeRE = regexp.MustCompile(`(?m)^Total downtime:\s+(\d+)\s+ms`)

// migrate measures migrate_to from n1 to n2, run inside n1 as Pacemaker
// there would: wall and CPU of the action, and the guest's downtime as the
// target's libvirt reports it (domjobinfo --completed).
func (b *bench) migrate(t *benchTB, n1, n2 *libvirthost.Host, name, cfg string) error {
	const maxDowntime = 100 // ms
	fmt.Fprintf(b.log, "  %s: migrate_to\n", b.typ)
	params := map[string]string{"config": cfg, "hypervisor": "qemu:///system", "migration_transport": "tcp",
		"migration_downtime": strconv.Itoa(maxDowntime)}
	forced := map[string]string{"config": cfg, "hypervisor": "qemu:///system", "force_stop": "true"}
	r := row{section: b.typ, scenario: fmt.Sprintf("migrate_to (migration_downtime %d ms)", maxDowntime), stock: &measure{}, ours: &measure{}}
	b.mig = &migration{max: maxDowntime * time.Millisecond}
	w1, w2 := n1.Wrap(), n2.Wrap()
	meta := map[string]string{"migrate_source": n1.Name, "migrate_target": n2.Name}
	n := b.o.slow
	if n > 4 {
		n = 4
	}
	for i := 0; i < n; i++ {
		for k, im := range b.impls {
			res, err := b.call(im, op{action: "start", params: params}, w1)
			if err != nil || res.Code != ocf.Success {
				return fmt.Errorf("%s start on %s: %v %s", im.name, n1.Name, err, resText(res))
			}
			// Migrate a booted guest, not one still loading its kernel.
			n1.WaitSerial(t, n1.SerialLog(name), "COUNTER", 60*time.Second)
			res, err = b.callMeta(im, op{action: "migrate_to", params: params}, w1, meta, 120*time.Second)
			if err != nil || res.Code != ocf.Success {
				return fmt.Errorf("%s migrate_to: %v %s", im.name, err, resText(res))
			}
			s := sample{wall: res.Elapsed}
			if res.Usage != nil {
				s.cpu = time.Duration(res.Usage.Utime.Nano() + res.Usage.Stime.Nano())
			}
			r.side(k).samples = append(r.side(k).samples, s)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			// In the C locale (VirshCommand's): virsh translates "Total downtime:".
			out, _ := n2.VirshCommand(ctx, "domjobinfo", "--completed", name).CombinedOutput()
			cancel()
			if m := downtimeRE.FindSubmatch(out); m != nil {
				ms, _ := strconv.Atoi(string(m[1]))
				b.mig.downtime[k] = append(b.mig.downtime[k], time.Duration(ms)*time.Millisecond)
			} else {
				fmt.Fprintf(b.log, "    no downtime from the target: %s\n", out)
			}
			if res, err := b.call(im, op{action: "stop", params: forced}, w2); err != nil || res.Code != ocf.Success {
				return fmt.Errorf("%s stop on %s: %v %s", im.name, n2.Name, err, resText(res))
			}
			_, _ = n2.VirshCommand(context.Background(), "undefine", name).CombinedOutput()
			_, _ = n1.VirshCommand(context.Background(), "undefine", name).CombinedOutput()
		}
	}
	b.rows = append(b.rows, r)
	return nil
}

func resText(res *ocf.CallResult) string {
	if res == nil {
		return ""
	}
	return fmt.Sprintf("exit %d %s: %s", res.Code, res.Reason, strings.TrimSpace(res.Stderr))
}

// migrationReport adds the downtime lines and target.
func (b *bench) migrationReport(w *strings.Builder) {
	if b.mig == nil {
		return
	}
	med := func(d []time.Duration) time.Duration {
		return median(toSamples(d), func(s sample) time.Duration { return s.wall })
	}
	fmt.Fprintf(w, "\nVirtualDomain migrate_to: guest downtime as the target's libvirt reports it (`domjobinfo --completed`),\n")
	fmt.Fprintf(w, "median of %d migrations: stock %s ms, paceline %s ms (all: stock %v, paceline %v).\n",
		len(b.mig.downtime[1]), ms(med(b.mig.downtime[0])), ms(med(b.mig.downtime[1])), b.mig.downtime[0], b.mig.downtime[1])
}

func (b *bench) migrationTarget(w *strings.Builder) {
	if b.mig == nil {
		return
	}
	worst := time.Duration(-1)
	for _, d := range b.mig.downtime[1] {
		if d > worst {
			worst = d
		}
	}
	b.target(w, fmt.Sprintf("VirtualDomain migrate_to: downtime within migration_downtime (%s)", b.mig.max),
		fmt.Sprintf("worst %s of %d", worst, len(b.mig.downtime[1])), worst >= 0 && worst <= b.mig.max)
}
