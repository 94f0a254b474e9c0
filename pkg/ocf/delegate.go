package ocf

import (
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
