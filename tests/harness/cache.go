package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// CacheRoot is where the system tests keep what is expensive to make and
// does not change between runs (the kernel, guest images, libvirt's qemu
// capabilities): $PACELINE_TEST_CACHE, or /var/cache/paceline-tests.
func CacheRoot() string {
	if d := os.Getenv("PACELINE_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/paceline-tests"
}

// CacheDir returns CacheRoot()/sub, created.
func CacheDir(t testing.TB, sub string) string {
	t.Helper()
	d := filepath.Join(CacheRoot(), sub)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatalf("test cache: %v", err)
	}
	return d
}

// LockCache takes an exclusive flock on CacheRoot()/<name>.lock, so that
// concurrent test processes fill one cache entry once; the returned
// function releases it.
func LockCache(name string) (func(), error) {
	root := CacheRoot()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	return LockFile(filepath.Join(root, name+".lock"))
}

// LockFile takes an exclusive flock on path (created), waiting for it:
// a lock between processes. The returned function releases it.
func LockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return func() { f.Close() }, nil // closing drops the lock
}
