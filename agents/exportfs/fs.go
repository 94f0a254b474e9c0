package exportfs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// FSCommand is the hidden command of the paceline binary that does the
// exportfs agent's work on the exported filesystems in a process of its
// own: resolving the directories, reading and writing the rmtab backup,
// releasing the locks (the kernel looks the path up). A filesystem that
// no longer answers (a dead iSCSI LUN, a stalled DRBD device) blocks that
// child, not the action, which abandons it at its deadline.
const FSCommand = "__exportfs-fs"

// exitMissing is the child's exit code for a directory that does not
// exist.
const exitMissing = 3

// runFS runs the child with args (ocf.RunChild) for at most a quarter of
// what is left of the action (10 s at the most): a hung filesystem must
// leave the action time for its own work (exportfs -u, the exit reason).
func runFS(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, ocf.Share(ctx, 4, 0, 10*time.Second))
	defer cancel()
	out, err := ocf.RunChild(ctx, append([]string{FSCommand}, args...)...)
	if errors.Is(err, ocf.ErrNoAnswer) {
		err = fmt.Errorf("%w (the filesystem may be hung)", err)
	}
	return out, err
}

// resolve returns the canonical paths of dirs (links resolved), as
// upstream exports them; a missing directory is a configuration error,
// as upstream's start says. It has a third of the start: exportfs must
// still have its time.
func resolve(ctx context.Context, dirs []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, ocf.Share(ctx, 3, 0, 20*time.Second))
	defer cancel()
	out, err := ocf.RunChild(ctx, append([]string{FSCommand, "-resolve"}, dirs...)...)
	var ee *ocf.ExitError
	switch {
	case errors.As(err, &ee) && ee.Code == exitMissing:
		return nil, ocf.NotConfigured("%s", strings.TrimSuffix(err.Error(), ": "+ee.Error()))
	case err != nil:
		return nil, ocf.Generic("resolving %s: %v", strings.Join(dirs, " "), err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(dirs) {
		return nil, ocf.Generic("resolving %s: got %q", strings.Join(dirs, " "), got)
	}
	return got, nil
}

// FSMain is the child side; it returns the exit code, the reason of a
// failure on stderr.
func FSMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(FSCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	doResolve := fs.Bool("resolve", false, "print the canonical path of each directory argument")
	read := fs.String("read", "", "print this file")
	write := fs.String("write", "", "replace this file with -content")
	content := fs.String("content", "", "what -write writes")
	doUnlock := fs.Bool("unlock", false, "release the NFS locks on each directory argument's filesystem")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	switch {
	case *doResolve:
		for _, d := range fs.Args() {
			p, e := filepath.EvalSymlinks(d)
			if errors.Is(e, os.ErrNotExist) {
				fmt.Fprintf(stderr, "%s does not exist\n", d)
				return exitMissing
			}
			if e == nil {
				p, e = filepath.Abs(p)
			}
			if e != nil {
				err = e
				break
			}
			fmt.Fprintln(stdout, p)
		}
	case *read != "":
		var data []byte
		if data, err = os.ReadFile(*read); err == nil {
			_, err = stdout.Write(data)
		}
	case *write != "":
		err = ocf.WriteFileAtomic(*write, []byte(*content), 0o644)
	case *doUnlock:
		for _, d := range fs.Args() {
			if err = os.WriteFile(unlockPath, []byte(d+"\n"), 0); err != nil {
				break
			}
		}
	default:
		fmt.Fprintln(stderr, "usage: paceline", FSCommand, "-resolve DIR... | -read FILE | -write FILE -content TEXT | -unlock DIR...")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
