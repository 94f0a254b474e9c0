package guestimage

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/paceline-ha/paceline/tests/proc"
)

type kmod struct {
	name string // normalized: '-' -> '_'
	data []byte // uncompressed
}

// moduleLoadOrder resolves names and their dependencies (depends= in
// each module's .modinfo; the unpacked package has no modules.dep) and
// returns them depth-first, dependencies first. Built-in modules are
// left out.
func moduleLoadOrder(modules string, names []string) ([]kmod, error) {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	files := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modules, "kernel"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		base := d.Name()
		if i := strings.Index(base, ".ko"); i > 0 {
			files[norm(base[:i])] = path
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	data, _ := os.ReadFile(filepath.Join(modules, "modules.builtin"))
	for _, l := range strings.Fields(string(data)) {
		builtin[norm(strings.TrimSuffix(filepath.Base(l), ".ko"))] = true
	}
	var out []kmod
	seen := map[string]bool{}
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = norm(name)
		if seen[name] || builtin[name] {
			return nil
		}
		seen[name] = true
		path, ok := files[name]
		if !ok {
			return fmt.Errorf("kernel has no module %s (needed by %s)", name, strings.Join(chain, " <- "))
		}
		data, err := readModule(path)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		for _, d := range deps {
			if err := visit(d, append([]string{name}, chain...)); err != nil {
				return err
			}
		}
		out = append(out, kmod{name: name, data: data})
		return nil
	}
	for _, n := range names {
		if err := visit(n, []string{"the image"}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// moduleDepends reads depends= from a module's .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("no .modinfo section")
	}
	info, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, d)
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// readModule returns a module's contents, decompressed: the guest's
// busybox insmod takes plain .ko files.
func readModule(path string) ([]byte, error) {
	switch {
	case strings.HasSuffix(path, ".ko"):
		return os.ReadFile(path)
	case strings.HasSuffix(path, ".gz"):
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return io.ReadAll(zr)
	case strings.HasSuffix(path, ".xz"):
		return proc.Command(context.Background(), "xz", "-dc", path).Output()
	case strings.HasSuffix(path, ".zst"):
		return proc.Command(context.Background(), "zstd", "-dcq", path).Output()
	}
	return nil, fmt.Errorf("%s: unknown module format", path)
}

// isStaticELF reports whether data is an ELF executable without an
// interpreter (statically linked).
func isStaticELF(data []byte) bool {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
