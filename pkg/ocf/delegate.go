package ocf

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// Delegate replaces this process with program acting as agent (argv[0]
// set to the agent's name, the same arguments and environment). program
// is looked for beside this executable, then in ../libexec/paceline/
// relative to it (/usr/sbin/paceline, /usr/libexec/paceline/...). It
// returns only when program is not found or cannot be executed.
func Delegate(agent, program string) {
	self, err := os.Executable()
	if err != nil {
		return
	}
	if real, err := filepath.EvalSymlinks(self); err == nil {
		self = real
	}
	dir := filepath.Dir(self)
	for _, p := range []string{
		filepath.Join(dir, program),
		filepath.Join(dir, "..", "libexec", "paceline", program),
	} {
		if p == self {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			argv := append([]string{agent}, os.Args[1:]...)
			_ = syscall.Exec(p, argv, os.Environ())
		}
	}
}

// Handoff is the error an action returns when it finds, while running,
// that another program must run it: VirtualDomain's static build meeting
// a libvirt daemon that only libvirt's client can talk to (modular
// daemons, authentication). Exec then replaces this process with program
// (Delegate), as main does for the actions the registry hands over
// before they start; the action starts again there. When program is
// missing, the action ends with missing instead.
func Handoff(program string, missing error) error {
	return &handoff{program: program, missing: missing}
}

type handoff struct {
	program string
	missing error
}

func (h *handoff) Error() string { return h.missing.Error() }
func (h *handoff) Unwrap() error { return h.missing }

// IsHandoff reports whether err hands the action over to program.
func IsHandoff(err error, program string) bool {
	var h *handoff
	return errors.As(err, &h) && h.program == program
}
