package filesystem

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/paceline-ha/paceline/pkg/ocf"
)

// CheckCommand is the hidden command of the paceline binary that performs
// the I/O of a deep monitor in a process of its own: a read from the
// device (level 10) or a status file written and read back (level 20).
// I/O on a dead NFS server, a stopped FUSE server or a stalled device can
// block in the kernel; the monitor abandons the child at its deadline and
// reports the failure instead of hanging with it.
const CheckCommand = "__filesystem-check"

const blockSize = 4096

// errHung is what runCheck returns when the check did not finish in time.
var errHung = ocf.ErrNoAnswer

// runCheck runs the check in a child process (ocf.RunChild) until ctx
// ends; a child still blocked then is left behind.
func runCheck(ctx context.Context, args ...string) error {
	_, err := ocf.RunChild(ctx, append([]string{CheckCommand}, args...)...)
	var ee *ocf.ExitError
	if errors.As(err, &ee) {
		// The child's message is the reason; its exit status adds nothing.
		return errors.New(strings.TrimSuffix(err.Error(), ": "+ee.Error()))
	}
	return err
}

// CheckMain is the child side. It returns the exit code; the reason of a
// failure goes to stderr.
func CheckMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet(CheckCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	read := fs.String("read", "", "device to read one block from")
	write := fs.String("write", "", "status file to write and read back")
	content := fs.String("content", "", "what to write")
	remove := fs.String("remove", "", "status file to remove")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	switch {
	case *read != "":
		err = readBlock(*read)
	case *write != "":
		err = writeStatus(*write, *content)
	case *remove != "":
		if err = os.Remove(*remove); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	default:
		fmt.Fprintln(stderr, "usage: paceline", CheckCommand, "-read DEVICE | -write FILE -content TEXT | -remove FILE")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// alignedBlock returns a blockSize buffer aligned for O_DIRECT.
func alignedBlock() []byte {
	b := make([]byte, 2*blockSize)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (blockSize - 1))
	if off != 0 {
		off = blockSize - off
	}
	return b[off : off+blockSize]
}

// readBlock replaces "dd if=DEVICE iflag=direct bs=4k count=1".
func readBlock(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dev, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Pread(fd, alignedBlock(), 0); err != nil {
		return fmt.Errorf("read %s: %w", dev, err)
	}
	return nil
}

// writeStatus replaces upstream's dd oflag=direct,sync of the status file
// and the cat that reads it back. Filesystems without direct I/O (tmpfs)
// get synchronous writes instead.
func writeStatus(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	buf := alignedBlock()
	for i := range buf {
		buf[i] = 0
	}
	copy(buf, content+"\n")
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_SYNC | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags|unix.O_DIRECT, 0o644)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.Open(path, flags, 0o644)
	}
	if err != nil {
		return fmt.Errorf("open %s for writing: %w", path, err)
	}
	if _, err := unix.Write(fd, buf); err != nil {
		unix.Close(fd)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := unix.Fsync(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("sync %s: %w", path, err)
	}
	unix.Close(fd)

	fd, err = unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("open %s for reading: %w", path, err)
	}
	defer unix.Close(fd)
	back := alignedBlock()
	n, err := unix.Pread(fd, back, 0)
	if err != nil {
		return fmt.Errorf("read back %s: %w", path, err)
	}
	if !bytes.HasPrefix(back[:n], []byte(content+"\n")) {
		return fmt.Errorf("%s reads back different content than written", path)
	}
	return nil
}

// removeStatus removes the depth-20 status file in a child process, so
// that a hung filesystem neither blocks the stop nor stays busy because of
// a thread of the agent stuck in it: the child is killed when it does not
// finish within timeout.
func removeStatus(ctx context.Context, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return runCheck(ctx, "-remove", path)
}
