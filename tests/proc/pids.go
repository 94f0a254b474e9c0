package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WritePID records pid in file.
func WritePID(file string, pid int) error {
	return os.WriteFile(file, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// Recorded returns the PID in file when that process is alive (not a
// zombie) and its command line holds every one of marks, else 0: a
// record left by a process that is gone names nobody, even when its
// PID was given to another process since.
func Recorded(file string, marks ...string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 || !Alive(pid) {
		return 0
	}
	args := Cmdline(pid)
	for _, m := range marks {
		found := false
		for _, a := range args {
			if a == m {
				found = true
				break
			}
		}
		if !found {
			return 0
		}
	}
	return pid
}

// Cmdline returns pid's command line (nil when it is gone).
func Cmdline(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// ArgvIs reports whether pid's command line is exactly argv.
func ArgvIs(pid int, argv ...string) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && string(data) == strings.Join(argv, "\x00")+"\x00"
}

// Arg returns the argument after flag in pid's command line, or "".
func Arg(pid int, flag string) string {
	args := Cmdline(pid)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// stat returns the fields of /proc/<pid>/stat after the command name,
// the first being the state.
func stat(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(data[i+1:]))
}

// State returns the state letter of pid (R, S, T, Z, ...), or 0.
func State(pid int) byte {
	if f := stat(pid); len(f) > 0 && len(f[0]) > 0 {
		return f[0][0]
	}
	return 0
}

// Alive reports whether pid runs; a zombie does not (orphans wait for
// this machine's PID 1 to reap them, which may take a while).
func Alive(pid int) bool {
	s := State(pid)
	return s != 0 && s != 'Z' && s != 'X'
}

// StartTime is pid's start time (in clock ticks since boot), which tells
// a process from a later one with the same PID; "" when pid is gone.
func StartTime(pid int) string {
	if f := stat(pid); len(f) >= 20 {
		return f[19]
	}
	return ""
}

// All returns the PIDs of the live processes other than this one for
// which keep holds.
func All(keep func(pid int) bool) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !Alive(pid) || !keep(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// Matching returns the live processes other than this one whose command
// line contains marker (a private temporary directory's path).
func Matching(marker string) []int {
	return All(func(pid int) bool {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && bytes.Contains(data, []byte(marker))
	})
}

// InMountNS returns the live processes in the mount namespace that
// nsFile (/proc/<pid>/ns/mnt, or a bind mount of one) stands for.
func InMountNS(nsFile string) []int {
	var want syscall.Stat_t
	if syscall.Stat(nsFile, &want) != nil {
		return nil
	}
	return All(func(pid int) bool {
		var got syscall.Stat_t
		return syscall.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid), &got) == nil && got.Dev == want.Dev && got.Ino == want.Ino
	})
}

// WaitGone waits up to timeout until none of pids is alive.
func WaitGone(pids []int, timeout time.Duration) bool {
	return Until(timeout, 50*time.Millisecond, func() error {
		for _, pid := range pids {
			if Alive(pid) {
				return fmt.Errorf("%d alive", pid)
			}
		}
		return nil
	}) == nil
}

// Kill sends SIGTERM to pids, SIGKILL to those alive after grace, and
// returns those still alive 5 s later.
func Kill(pids []int, grace time.Duration) []int {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	if WaitGone(pids, grace) {
		return nil
	}
	for _, pid := range pids {
		if Alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	WaitGone(pids, 5*time.Second)
	var left []int
	for _, pid := range pids {
		if Alive(pid) {
			left = append(left, pid)
		}
	}
	return left
}

// KillMatching is Kill for the processes whose command line contains
// marker, looked for again before the SIGKILL (a daemon may have started
// another meanwhile); it returns those alive at the end.
func KillMatching(marker string, grace time.Duration) []int {
	if marker == "" {
		return nil
	}
	pids := Matching(marker)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	if WaitGone(pids, grace) {
		return nil
	}
	for _, pid := range Matching(marker) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	WaitGone(pids, 5*time.Second)
	return Matching(marker)
}

// Freeze stops pid with SIGSTOP and waits until it is stopped.
func Freeze(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP %d: %v", pid, err)
	}
	return Until(5*time.Second, 5*time.Millisecond, func() error {
		if s := State(pid); s != 'T' {
			return fmt.Errorf("%d not stopped after SIGSTOP (state %c)", pid, s)
		}
		return nil
	})
}
