package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paceline-ha/paceline/tests/proc"
)

func TestShellQuote(t *testing.T) {
	words := []string{"plain", "two words", `it's`, `$HOME "x"`, ""}
	out, err := proc.Command(context.Background(), "sh", "-c", `for w in `+ShellQuote(words...)+`; do printf '<%s>' "$w"; done`).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := `<plain><two words><it's><$HOME "x"><>`; string(out) != want {
		t.Errorf("sh read %s, want %s", out, want)
	}
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if Tail(p, 2) != "" {
		t.Error("a missing file has a tail")
	}
	if err := os.WriteFile(p, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(p, 2); got != "--- "+p+" (tail)\nb\nc\n" {
		t.Errorf("Tail = %q", got)
	}
}

func TestParseStrace(t *testing.T) {
	log := strings.Join([]string{
		`100 execve("/usr/sbin/IPaddr2", ["IPaddr2"], 0x7ffc /* 30 vars */) = 0`,
		`100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD) = 101`,
		`100 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_THREAD|CLONE_SIGHAND) = 102`,
		`101 execve("/usr/bin/ip", ["ip"], 0x55 /* 30 vars */ <unfinished ...>`,
		`101 <... execve resumed>) = 0`,
		`100 execve("/nonexistent", ["x"], 0x55) = -1 ENOENT (No such file or directory)`,
		`100 vfork() = 103`,
	}, "\n")
	if forks, execs := ParseStrace(log); forks != 2 || execs != 2 {
		t.Errorf("ParseStrace = %d forks, %d execs; want 2 and 2", forks, execs)
	}
}
