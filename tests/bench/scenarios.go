package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paceline-ha/paceline/agents"
	"github.com/paceline-ha/paceline/tests/proc"
)

func inner(o options) int {
	tmp, err := os.MkdirTemp("", "paceline-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	_ = os.Chmod(tmp, 0o755)
	ours := filepath.Join(tmp, "bin")
	if err := os.Mkdir(ours, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, e := range agents.All() {
		target := o.bin
		if e.Kind == agents.Fence { // as make install links them
			target = filepath.Join(filepath.Dir(o.bin), "paceline-fence")
		}
		if err := os.Symlink(target, filepath.Join(ours, e.Name)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	b := &bench{o: o, tmp: tmp, log: os.Stderr,
		impls: [2]impl{{"stock", stockDir}, {"paceline", ours}}}
	err = b.run()
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	report := b.report()
	fmt.Print(report)
	if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if len(b.failed) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d target(s) missed\n", len(b.failed))
		return 1
	}
	return 0
}

func (b *bench) run() error {
	fmt.Fprintf(b.log, "bench: stock vs paceline, %d calls per cheap scenario, %d per start/stop\n", b.o.n, b.o.slow)
	for _, s := range []struct {
		name string
		run  func() error
	}{{"IPaddr2", b.ipaddr2}, {"Filesystem", b.filesystem}, {"VirtualDomain", b.virtualdomain}, {"fence", b.fence}, {"drbd", b.drbd}, {"exportfs", b.exportfs},
		{"cluster", b.cluster}, {"", b.measureFloor}} {
		if b.o.only != "" && s.name != "" && s.name != sectionOf(b.o.only) {
			continue
		}
		if err := s.run(); err != nil {
			return err
		}
	}
	return nil
}

// sectionOf is the section that -only name selects: the NFS guest's
// section (exportfs.go, nfsserver.go) measures both NFS agents, so
// nfsserver and nfs select it as exportfs does.
func sectionOf(name string) string {
	switch name {
	case "nfs", "nfsserver":
		return "exportfs"
	}
	return name
}

// cleanup undoes what the scenarios left, whatever happened.
func (b *bench) cleanup() {
	for i := len(b.undo) - 1; i >= 0; i-- {
		b.undo[i]()
	}
}

// pair measures one scenario for both agents much as performance-anchors.md
// did for the stock ones: blocks of consecutive calls of one agent, each
// after one discarded warm-up call, in four rounds, the agents taking turns
// (stock, paceline, stock, paceline...) so that both see the same machine
// load. Calls in a block of one agent warm the caches
// the same way for both; alternating single calls would bill paceline for
// the cache misses left by the 40 processes of each stock call.
func (b *bench) pair(name string, n int, o op, cheap bool) error {
	fmt.Fprintf(b.log, "  %s: %s\n", b.typ, name)
	r := row{section: b.typ, scenario: name, stock: &measure{}, ours: &measure{}, cheap: cheap}
	const rounds = 4
	for round := 0; round < rounds; round++ {
		for k, im := range b.impls {
			// One discarded warm-up call per block, then the measured ones.
			if err := b.one(im, &measure{}, o); err != nil {
				return err
			}
			m := r.side(k)
			for i := 0; i < (n+rounds-1)/rounds; i++ {
				if err := b.one(im, m, o); err != nil {
					return err
				}
			}
		}
	}
	for k, im := range b.impls {
		if err := b.traced(im, r.side(k), o); err != nil {
			return err
		}
		if err := b.peak(im, r.side(k), o); err != nil {
			return err
		}
	}
	b.rows = append(b.rows, r)
	return nil
}

func (r *row) side(k int) *measure {
	if k == 0 {
		return r.stock
	}
	return r.ours
}

// cycle measures actions that change state and must alternate (start
// then stop): n rounds of the whole cycle per agent, the agents taking
// turns; then one traced and one RSS-measured cycle per agent.
func (b *bench) cycle(n int, names []string, ops []op, faster []bool) error {
	fmt.Fprintf(b.log, "  %s: %v\n", b.typ, names)
	rows := make([]row, len(ops))
	for i := range ops {
		rows[i] = row{section: b.typ, scenario: names[i], stock: &measure{}, ours: &measure{}, faster: faster[i]}
	}
	for i := 0; i < n; i++ {
		for k, im := range b.impls {
			for j, o := range ops {
				if err := b.one(im, rows[j].side(k), o); err != nil {
					return err
				}
			}
			if b.settle != nil {
				b.settle()
			}
		}
	}
	for k, im := range b.impls {
		for j, o := range ops {
			if err := b.traced(im, rows[j].side(k), o); err != nil {
				return err
			}
		}
		for j, o := range ops {
			if err := b.peak(im, rows[j].side(k), o); err != nil {
				return err
			}
		}
	}
	b.rows = append(b.rows, rows...)
	return nil
}

// measureFloor times "paceline version": starting the Go binary and doing
// nothing, the part of every call no agent code can save.
func (b *bench) measureFloor() error {
	fmt.Fprintf(b.log, "  process start floor\n")
	for i := -3; i < b.o.n; i++ { // three discarded warm-up calls
		cmd := proc.Command(context.Background(), b.o.bin, "version")
		if err := cmd.Run(); err != nil {
			return err
		}
		if i >= 0 {
			b.floor = append(b.floor, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		}
	}
	return nil
}
