package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
	"github.com/paceline-ha/paceline/tests/proc"
)

// filesystem measures Filesystem with ext4 on a loop device.
func (b *bench) filesystem() error {
	b.typ, b.inst = "Filesystem", "fs"
	img := filepath.Join(b.tmp, "fs.img")
	for _, c := range [][]string{{"truncate", "-s", "64M", img}, {"mkfs.ext4", "-q", "-F", img}} {
		if out, err := proc.Output(context.Background(), c[0], c[1:]...); err != nil {
			return fmt.Errorf("%s: %v: %s", c[0], err, out)
		}
	}
	out, err := proc.Command(context.Background(), "losetup", "-f", "--show", img).Output()
	if err != nil {
		return fmt.Errorf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	dir := filepath.Join(b.tmp, "mnt")
	params := map[string]string{"device": dev, "directory": dir, "fstype": "ext4"}
	var holders []*proc.Cmd
	b.undo = append(b.undo, func() {
		for _, h := range holders {
			_ = h.Process.Kill()
			_ = h.Wait()
		}
		_ = proc.Command(context.Background(), "umount", dir).Run()
		_ = proc.Command(context.Background(), "losetup", "-d", dev).Run()
	})
	monitor := func(depth string, want ocf.Status) op {
		return op{action: "monitor", params: params, interval: 20 * time.Second, depth: depth, want: want}
	}
	// busy starts a process with its working directory in the mount, as
	// an application using it would; it dies on SIGTERM.
	busy := func() error {
		h := proc.Command(context.Background(), "sleep", "600")
		h.Dir = dir
		if err := h.Start(); err != nil {
			return err
		}
		holders = append(holders, h)
		go func() { _ = h.Wait() }()
		return nil
	}
	steps := []func() error{
		func() error { return b.pair("meta-data", b.o.n, op{action: "meta-data"}, false) },
		func() error { return b.pair("monitor, not mounted", b.o.n, monitor("0", ocf.NotRunning), true) },
		func() error {
			return b.pair("probe, not mounted", b.o.n, op{action: "monitor", params: params, want: ocf.NotRunning}, true)
		},
		func() error {
			if _, err := b.call(b.impls[1], op{action: "start", params: params}, nil); err != nil {
				return err
			}
			defer b.call(b.impls[1], op{action: "stop", params: params}, nil)
			for _, d := range []struct {
				name, depth string
				cheap       bool
			}{{"monitor depth 0, mounted", "0", true}, {"monitor depth 10, mounted", "10", false}, {"monitor depth 20, mounted", "20", false}} {
				if err := b.pair(d.name, b.o.n, monitor(d.depth, ocf.Success), d.cheap); err != nil {
					return err
				}
			}
			return nil
		},
		func() error {
			return b.cycle(b.o.slow, []string{"start", "stop, idle"}, []op{
				{action: "start", params: params, want: ocf.Success},
				{action: "stop", params: params, want: ocf.Success},
			}, []bool{false, false})
		},
		func() error {
			return b.cycle(b.o.slow, []string{"start (before a busy stop)", "stop, busy (1 process, cwd)"}, []op{
				{action: "start", params: params, want: ocf.Success},
				{action: "stop", params: params, want: ocf.Success, before: busy},
			}, []bool{false, true})
		},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}
