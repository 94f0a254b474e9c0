package netns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Namespace is a namespace held by a file (/proc/<pid>/ns/<kind> or a
// bind mount of one) and its kind (unix.CLONE_NEWNS, CLONE_NEWNET...).
type Namespace struct {
	Path string
	Kind int
}

// Enter runs fn on an OS thread that joined nss, in order; the thread
// ends with fn (see OnOwnThread). Joining a mount namespace needs a
// thread with a root and working directory of its own: Enter unshares
// them first.
func Enter(nss []Namespace, fn func() error) error {
	var err error
	OnOwnThread(func() {
		if err = unix.Unshare(unix.CLONE_FS); err != nil {
			err = fmt.Errorf("unshare CLONE_FS: %v", err)
			return
		}
		// Open every file first: inside a new mount namespace they
		// are no longer the bind mounts holding the namespaces.
		fds := make([]int, 0, len(nss))
		defer func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}()
		for _, ns := range nss {
			var fd int
			if fd, err = unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
				return
			}
			fds = append(fds, fd)
		}
		for i, ns := range nss {
			if err = unix.Setns(fds[i], ns.Kind); err != nil {
				err = fmt.Errorf("setns %s: %v", ns.Path, err)
				return
			}
		}
		err = fn()
	})
	return err
}

// OnOwnThread runs fn on a locked OS thread that ends afterwards, so fn
// may change the thread's namespaces. That thread is never the main one:
// /proc/self follows the main thread, and Go keeps it (parked) rather
// than ending it.
func OnOwnThread(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Hold the main thread while another goroutine gets a
			// different one, then give it back untouched.
			OnOwnThread(fn)
			runtime.UnlockOSThread()
			return
		}
		fn()
		// Returning while locked ends the thread.
	}()
	<-done
}

// LoopbackUp sets lo up in the current thread's network namespace.
func LoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %v", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %v", err)
	}
	return nil
}
