package ocf

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStateFiles(t *testing.T) {
	r := &Request{StateDir: filepath.Join(t.TempDir(), "rsctmp")}
	if _, err := r.ReadState("x"); !os.IsNotExist(err) {
		t.Fatalf("ReadState(missing) error %v, want not exist", err)
	}
	if err := r.WriteState("x", []byte("one\n")); err != nil {
		t.Fatalf("WriteState: %v", err)
	}
	if err := r.WriteState("x", []byte("two\n")); err != nil {
		t.Fatalf("WriteState again: %v", err)
	}
	if data, err := r.ReadState("x"); err != nil || string(data) != "two\n" {
		t.Errorf("ReadState = %q, %v, want two", data, err)
	}
	if ents, _ := os.ReadDir(r.StateDir); len(ents) != 1 {
		t.Errorf("state dir holds %d files, want the one (no temporary left)", len(ents))
	}
	if err := r.RemoveState("x"); err != nil {
		t.Errorf("RemoveState: %v", err)
	}
	if err := r.RemoveState("x"); err != nil {
		t.Errorf("RemoveState of a missing file: %v", err)
	}
}

func TestNodeName(t *testing.T) {
	r := &Request{}
	r.Meta.OnNode = "node7"
	if got := r.NodeName(); got != "node7" {
		t.Errorf("NodeName() = %q, want Pacemaker's node7", got)
	}
	r.Meta.OnNode = ""
	host, _ := os.Hostname()
	if got := r.NodeName(); got != host {
		t.Errorf("NodeName() = %q, want the host name %q", got, host)
	}
}

func TestIntIn(t *testing.T) {
	r := &Request{Params: map[string]string{"a": "5", "b": "-1", "c": "x"}}
	if n, err := r.IntIn("a", 0, 10); err != nil || n != 5 {
		t.Errorf("IntIn(a) = %d, %v", n, err)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := r.IntIn(name, 0, MaxInt); CodeOf(err) != ErrConfigured {
			t.Errorf("IntIn(%s) error %v, want a configuration error", name, err)
		}
	}
}
