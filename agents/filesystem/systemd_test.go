package filesystem

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOrderAfterRemoteFS(t *testing.T) {
	dropIn := func(runtime string) string {
		return filepath.Join(runtime, "resource-agents-deps.target.d", "99-Filesystem-remote.conf")
	}
	reloads := 0
	reload := func() error { reloads++; return nil }

	// No systemd: nothing is written, nothing reloaded, and the runtime
	// directory is not created.
	none := filepath.Join(t.TempDir(), "run-systemd-system")
	if err := orderAfterRemoteFS(none, reload); err != nil || reloads != 0 {
		t.Fatalf("without systemd: err %v, %d reloads", err, reloads)
	}
	if _, err := os.Stat(none); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("created %s: %v", none, err)
	}

	// With systemd: written once, reloaded once; a second start finds it.
	rt := t.TempDir()
	for i := 0; i < 2; i++ {
		if err := orderAfterRemoteFS(rt, reload); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(dropIn(rt))
	if err != nil || string(got) != "[Unit]\nAfter=remote-fs.target\n" || reloads != 1 {
		t.Fatalf("drop-in %q (%v), %d reloads, want one", got, err, reloads)
	}
	if st, _ := os.Stat(dropIn(rt)); st.Mode().Perm()&0o004 == 0 {
		t.Errorf("drop-in mode %v is not world-readable", st.Mode())
	}

	// A different content is replaced, and a failed reload is reported.
	if err := os.WriteFile(dropIn(rt), []byte("[Unit]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("no bus")
	if err := orderAfterRemoteFS(rt, func() error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("reload error %v, want %v", err, failed)
	}
	if got, _ := os.ReadFile(dropIn(rt)); string(got) != "[Unit]\nAfter=remote-fs.target\n" {
		t.Errorf("drop-in not replaced: %q", got)
	}
}

func TestNeedsRemoteOrdering(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want bool
	}{
		{Config{FSType: "ocfs2"}, true},
		{Config{FSType: "gfs2"}, true},
		{Config{FSType: "nfs4"}, true},
		{Config{FSType: "ext4"}, false},
		{Config{FSType: "ext4", ForceClones: true}, true},
		{Config{FSType: "btrfs", ForceClones: true}, false},
	} {
		if got := tt.c.needsRemoteOrdering(); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.c, got, tt.want)
		}
	}
}
