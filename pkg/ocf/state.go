package ocf

import (
	"os"
	"path/filepath"
	"syscall"
)

// NodeName is the node this action runs on: the name Pacemaker gave
// (OCF_RESKEY_CRM_meta_on_node), else the kernel's host name; "" when
// neither is known.
func (r *Request) NodeName() string {
	if r.Meta.OnNode != "" {
		return r.Meta.OnNode
	}
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Nodename))
	for _, c := range u.Nodename {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// StatePath is the path of an agent's state file name in HA_RSCTMP
// (StateDir): volatile per-node state, gone at boot.
func (r *Request) StatePath(name string) string { return filepath.Join(r.StateDir, name) }

// WriteState replaces the state file name in HA_RSCTMP with data,
// atomically (WriteFileAtomic), creating the directory when needed: a
// reader sees the old content or the new one, never a part.
func (r *Request) WriteState(name string, data []byte) error {
	if err := os.MkdirAll(r.StateDir, 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(r.StatePath(name), data, 0o644)
}

// ReadState reads the state file name in HA_RSCTMP.
func (r *Request) ReadState(name string) ([]byte, error) { return os.ReadFile(r.StatePath(name)) }

// RemoveState removes the state file name; a missing file is no error.
func (r *Request) RemoveState(name string) error {
	if err := os.Remove(r.StatePath(name)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
