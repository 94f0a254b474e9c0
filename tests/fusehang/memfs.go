package fusehang

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// meta holds the mutable attributes shared by directories and files.
type meta struct {
	mu                  sync.Mutex
	perm                uint32 // permission bits (07777)
	uid, gid            uint32
	atime, mtime, ctime time.Time
}

// init sets up the attributes of a new node created by the caller of ctx.
func (m *meta) init(ctx context.Context, mode uint32) {
	now := time.Now()
	m.perm, m.atime, m.mtime, m.ctime = mode&07777, now, now, now
	if c, ok := ctx.(*fuse.Context); ok {
		m.uid, m.gid = c.Owner.Uid, c.Owner.Gid
	}
}

// fill copies the attributes into a; the caller holds m.mu.
func (m *meta) fill(a *fuse.Attr) {
	a.Mode = m.perm
	a.Owner = fuse.Owner{Uid: m.uid, Gid: m.gid}
	a.SetTimes(&m.atime, &m.mtime, &m.ctime)
	a.Blksize = 4096
}

// setattr applies the non-size parts of a SETATTR; the caller holds m.mu.
func (m *meta) setattr(in *fuse.SetAttrIn) {
	now := time.Now()
	if mode, ok := in.GetMode(); ok {
		m.perm = mode & 07777
	}
	if uid, ok := in.GetUID(); ok {
		m.uid = uid
	}
	if gid, ok := in.GetGID(); ok {
		m.gid = gid
	}
	if t, ok := in.GetATime(); ok {
		m.atime = t
	}
	if t, ok := in.GetMTime(); ok {
		m.mtime = t
	}
	m.ctime = now
}

// memDir is an in-memory directory. The child table itself is kept by
// fs.Inode; memDir only validates and creates nodes.
type memDir struct {
	fs.Inode
	meta
}

var (
	_ fs.NodeGetattrer = (*memDir)(nil)
	_ fs.NodeSetattrer = (*memDir)(nil)
	_ fs.NodeMkdirer   = (*memDir)(nil)
	_ fs.NodeCreater   = (*memDir)(nil)
	_ fs.NodeUnlinker  = (*memDir)(nil)
	_ fs.NodeRmdirer   = (*memDir)(nil)
	_ fs.NodeRenamer   = (*memDir)(nil)
	_ fs.NodeFsyncer   = (*memDir)(nil)
	_ fs.NodeStatfser  = (*memDir)(nil)
)

func (d *memDir) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fill(&out.Attr)
	out.Nlink = 2
	out.Size = 4096
	return 0
}

func (d *memDir) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	d.mu.Lock()
	d.setattr(in)
	d.mu.Unlock()
	return d.Getattr(ctx, fh, out)
}

func (d *memDir) touch() {
	now := time.Now()
	d.mu.Lock()
	d.mtime, d.ctime = now, now
	d.mu.Unlock()
}

func (d *memDir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, syscall.EEXIST
	}
	nd := &memDir{}
	nd.init(ctx, mode)
	ch := d.NewInode(ctx, nd, fs.StableAttr{Mode: fuse.S_IFDIR})
	var a fuse.AttrOut
	nd.Getattr(ctx, nil, &a)
	out.Attr = a.Attr
	d.touch()
	return ch, 0
}

func (d *memDir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if d.GetChild(name) != nil {
		return nil, nil, 0, syscall.EEXIST
	}
	nf := &memFile{}
	nf.init(ctx, mode)
	ch := d.NewInode(ctx, nf, fs.StableAttr{Mode: fuse.S_IFREG})
	var a fuse.AttrOut
	nf.Getattr(ctx, nil, &a)
	out.Attr = a.Attr
	d.touch()
	return ch, nil, openFlags(flags), 0
}

func (d *memDir) Unlink(ctx context.Context, name string) syscall.Errno {
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	if ch.IsDir() {
		return syscall.EISDIR
	}
	d.touch()
	return 0
}

func (d *memDir) Rmdir(ctx context.Context, name string) syscall.Errno {
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	if !ch.IsDir() {
		return syscall.ENOTDIR
	}
	if len(ch.Children()) > 0 {
		return syscall.ENOTEMPTY
	}
	d.touch()
	return 0
}

func (d *memDir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if flags != 0 {
		return syscall.EINVAL // no RENAME_NOREPLACE/RENAME_EXCHANGE
	}
	ch := d.GetChild(name)
	if ch == nil {
		return syscall.ENOENT
	}
	if old := newParent.EmbeddedInode().GetChild(newName); old != nil {
		if old.IsDir() != ch.IsDir() {
			if old.IsDir() {
				return syscall.EISDIR
			}
			return syscall.ENOTDIR
		}
		if old.IsDir() && len(old.Children()) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	d.touch()
	if p, ok := newParent.(*memDir); ok && p != d {
		p.touch()
	}
	return 0
}

func (d *memDir) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}

// Statfs reports a nominal 4 GiB filesystem, so that df(1) shows something.
func (d *memDir) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	*out = fuse.StatfsOut{Blocks: 1 << 20, Bfree: 1 << 20, Bavail: 1 << 20,
		Files: 1 << 20, Ffree: 1 << 20, Bsize: 4096, NameLen: 255, Frsize: 4096}
	return 0
}

// memFile is an in-memory regular file.
type memFile struct {
	fs.Inode
	meta
	data []byte
}

var (
	_ fs.NodeGetattrer = (*memFile)(nil)
	_ fs.NodeSetattrer = (*memFile)(nil)
	_ fs.NodeOpener    = (*memFile)(nil)
	_ fs.NodeReader    = (*memFile)(nil)
	_ fs.NodeWriter    = (*memFile)(nil)
	_ fs.NodeFlusher   = (*memFile)(nil)
	_ fs.NodeFsyncer   = (*memFile)(nil)
)

// openFlags returns the FOPEN_* flags for an open with the given
// open(2) flags. O_DIRECT opens get FOPEN_DIRECT_IO so every read and
// write reaches the server (and the page cache is bypassed); nothing
// is ever kept cached across opens.
func openFlags(flags uint32) uint32 {
	if flags&syscall.O_DIRECT != 0 {
		return fuse.FOPEN_DIRECT_IO
	}
	return 0
}

func (f *memFile) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, openFlags(flags), 0
}

func (f *memFile) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fill(&out.Attr)
	out.Nlink = 1
	out.Size = uint64(len(f.data))
	out.Blocks = (out.Size + 511) / 512
	return 0
}

func (f *memFile) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f.mu.Lock()
	if sz, ok := in.GetSize(); ok {
		f.resize(int(sz))
		f.mtime = time.Now()
	}
	f.setattr(in)
	f.mu.Unlock()
	return f.Getattr(ctx, fh, out)
}

// resize sets the length of the file; the caller holds f.mu.
func (f *memFile) resize(n int) {
	if n <= len(f.data) {
		clear(f.data[n:])
		f.data = f.data[:n]
		return
	}
	if n > cap(f.data) {
		nd := make([]byte, n, 2*n)
		copy(nd, f.data)
		f.data = nd
		return
	}
	f.data = f.data[:n]
}

func (f *memFile) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= int64(len(f.data)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, f.data[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

func (f *memFile) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end := int(off) + len(data); end > len(f.data) {
		f.resize(end)
	}
	copy(f.data[off:], data)
	now := time.Now()
	f.mtime, f.ctime = now, now
	return uint32(len(data)), 0
}

func (f *memFile) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	return 0
}

func (f *memFile) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}
