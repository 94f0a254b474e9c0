// Package proc is how the test harness runs processes: the one launcher
// for the daemons and children it starts (Start) and for the commands
// that run to their end (Command, Output, Run; the only importer of
// os/exec in tests/), the records of their PIDs in files and the checks
// made before signalling a recorded PID, the ending of processes by PID,
// and the one polling helper (Until, Eventually) every wait of the
// harness and of the tiers goes through.
//
// Nothing here kills by name: every signal goes to a PID this process
// started, or one read from a record and checked against its command
// line, its start time or its namespace first.
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// Spec is a process to start.
type Spec struct {
	Argv []string // program (looked up on PATH) and arguments
	Dir  string   // working directory; "" for ours
	// Env is added to this process's environment; with CleanEnv it is
	// the whole environment.
	Env      []string
	CleanEnv bool
	// Log is the file stdout and stderr are appended to (created 0600);
	// "": /dev/null.
	Log string
	// Detach puts the process in a session of its own, without a
	// parent-death signal: it outlives this process (a node of a cluster
	// that plcluster leaves running, a BMC's power-on helper). Otherwise
	// it gets a process group of its own and DeathSignal.
	Detach bool
	// DeathSignal is sent to an attached process when the thread that
	// started it ends, that is when this process dies (0: none). The
	// thread stays locked until the process has exited.
	DeathSignal syscall.Signal
	// Cloneflags makes the process in new namespaces (CLONE_NEW*);
	// Unshareflags unshares them in the child before exec (Go makes a
	// new mount namespace private then).
	Cloneflags   uintptr
	Unshareflags uintptr
	// PIDFile, when set, gets the PID (see Recorded); if it cannot be
	// written, the process is killed and Start fails.
	PIDFile string
}

// Proc is a started process. It is reaped by this process (never a
// zombie while we live); Done is closed once it has exited.
type Proc struct {
	Name string // argv[0]'s base name, for messages
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts spec and returns once the process runs.
func Start(spec Spec) (*Proc, error) {
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("start: no program")
	}
	name := filepath.Base(spec.Argv[0])
	logPath := spec.Log
	if logPath == "" {
		logPath = os.DevNull
	}
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %v", name, err)
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = out, out, spec.Dir
	if spec.CleanEnv {
		cmd.Env = append([]string(nil), spec.Env...)
	} else {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	attr := &syscall.SysProcAttr{Cloneflags: spec.Cloneflags, Unshareflags: spec.Unshareflags}
	if spec.Detach {
		attr.Setsid = true
	} else {
		attr.Setpgid, attr.Pdeathsig = true, spec.DeathSignal
	}
	cmd.SysProcAttr = attr
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	// The parent-death signal follows the thread that forked: that
	// thread waits for the process, locked, so that it lives as long.
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			_ = cmd.Wait()
		}
		out.Close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %v", name, err)
	}
	if spec.PIDFile != "" {
		if err := WritePID(spec.PIDFile, p.PID()); err != nil {
			_ = cmd.Process.Kill()
			<-p.done
			return nil, err
		}
	}
	return p, nil
}

// PID is the process's PID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited; a nil Proc has.
func (p *Proc) Exited() bool {
	if p == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process (not to its group).
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits until the process has exited (at most 5 s).
func (p *Proc) Kill() error {
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s %d survives SIGKILL", p.Name, p.PID())
	}
}

// Stop ends the process: SIGTERM (and SIGCONT, since a frozen process
// acts on SIGTERM only once resumed), SIGKILL after grace. A process
// that needed the SIGKILL is an error. Stopping a nil Proc does nothing.
func (p *Proc) Stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	if err := p.Kill(); err != nil {
		return err
	}
	return fmt.Errorf("%s %d ignored SIGTERM for %v; killed", p.Name, p.PID(), grace)
}

// Slot holds the running instance of a daemon that the harness starts,
// stops and starts again (a BMC's ipmi_sim, a libvirtd, a fencer, a
// guest's qemu). It is safe for concurrent use; the zero Slot is empty.
type Slot struct {
	mu sync.Mutex
	p  *Proc
}

// Set puts p in the slot.
func (s *Slot) Set(p *Proc) {
	s.mu.Lock()
	s.p = p
	s.mu.Unlock()
}

// Get returns the process in the slot, or nil.
func (s *Slot) Get() *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// PID returns the PID of the process in the slot while it runs, else 0.
func (s *Slot) PID() int {
	if p := s.Get(); p != nil && !p.Exited() {
		return p.PID()
	}
	return 0
}

// Exited reports whether the slot is empty or its process has exited.
func (s *Slot) Exited() bool { return s.Get().Exited() }

// Stop empties the slot and stops its process (Proc.Stop).
func (s *Slot) Stop(grace time.Duration) error {
	s.mu.Lock()
	p := s.p
	s.p = nil
	s.mu.Unlock()
	return p.Stop(grace)
}

// Freeze stops the running process with SIGSTOP and waits until it is
// stopped: a daemon that hangs. Thaw resumes it.
func (s *Slot) Freeze() error {
	pid := s.PID()
	if pid == 0 {
		return fmt.Errorf("not running")
	}
	return Freeze(pid)
}

// Thaw resumes a process stopped by Freeze.
func (s *Slot) Thaw() error {
	pid := s.PID()
	if pid == 0 {
		return fmt.Errorf("not running")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return fmt.Errorf("SIGCONT %d: %v", pid, err)
	}
	return nil
}
