package nfsserver

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// statd's monitor list (sm) names the NFSv3 clients that hold locks;
// sm-notify tells each of them to reclaim after the server restarts.
// A clean stop empties it: when nfsd stops, the kernel's lock manager
// ends and asks statd to forget every client (SM_UNMON), so a switchover
// would notify nobody and the clients' locks would be lost. stop
// therefore copies the list to sm.ha first, and start merges that copy
// back before statd starts. The stock agent keeps the same directory
// for the same reason, so state written by either agent is read by the
// other.
const (
	monitorDir = "sm"
	savedDir   = "sm.ha"
)

// saveMonitorList copies the entries of sm and sm.bak under dir into
// sm.ha, replacing what an earlier stop left there.
func saveMonitorList(dir string) error {
	saved := filepath.Join(dir, savedDir)
	if err := os.MkdirAll(saved, 0o700); err != nil {
		return err
	}
	var errs []error
	for _, from := range []string{monitorDir, "sm.bak"} {
		entries, err := os.ReadDir(filepath.Join(dir, from))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				errs = append(errs, copyEntry(filepath.Join(dir, from, e.Name()), filepath.Join(saved, e.Name()), true))
			}
		}
	}
	return errors.Join(errs...)
}

// restoreMonitorList moves the entries of sm.ha under dir into sm,
// keeping an entry sm already has (statd's own is newer), and returns
// how many it restored.
func restoreMonitorList(dir string) (int, error) {
	saved := filepath.Join(dir, savedDir)
	entries, err := os.ReadDir(saved)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), tmpSuffix) {
			continue
		}
		from, to := filepath.Join(saved, e.Name()), filepath.Join(dir, monitorDir, e.Name())
		if err := copyEntry(from, to, false); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		errs = append(errs, os.Remove(from))
	}
	return n, errors.Join(errs...)
}

// tmpSuffix marks a copy under way; such a file is never an entry.
const tmpSuffix = ".pl-tmp"

// copyEntry copies a monitor entry with its mode and owner (statd runs
// as the owner of sm); replace false keeps an existing destination.
func copyEntry(from, to string, replace bool) error {
	if !replace {
		if _, err := os.Lstat(to); err == nil {
			return nil
		}
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	tmp := to + tmpSuffix
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = chownLike(tmp, st)
	}
	if err == nil {
		err = os.Rename(tmp, to)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// chownLike gives path the owner and group st has.
func chownLike(path string, st os.FileInfo) error {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return os.Lchown(path, int(sys.Uid), int(sys.Gid))
	}
	return nil
}
