package fusehang

import "github.com/hanwen/go-fuse/v2/fuse"

// hangFS wraps a RawFileSystem so that every request that expects an
// answer first passes Server.gate. FORGET (no answer) and the lifecycle
// hooks pass straight through.
type hangFS struct {
	fuse.RawFileSystem
	s *Server
}

func (h *hangFS) Lookup(c <-chan struct{}, in *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Lookup(c, in, name, out)
}

func (h *hangFS) GetAttr(c <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.GetAttr(c, in, out)
}

func (h *hangFS) SetAttr(c <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.SetAttr(c, in, out)
}

func (h *hangFS) Mknod(c <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Mknod(c, in, name, out)
}

func (h *hangFS) Mkdir(c <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Mkdir(c, in, name, out)
}

func (h *hangFS) Unlink(c <-chan struct{}, in *fuse.InHeader, name string) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Unlink(c, in, name)
}

func (h *hangFS) Rmdir(c <-chan struct{}, in *fuse.InHeader, name string) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Rmdir(c, in, name)
}

func (h *hangFS) Rename(c <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Rename(c, in, oldName, newName)
}

func (h *hangFS) Link(c <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Link(c, in, name, out)
}

func (h *hangFS) Symlink(c <-chan struct{}, in *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Symlink(c, in, target, name, out)
}

func (h *hangFS) Readlink(c <-chan struct{}, in *fuse.InHeader) ([]byte, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return nil, st
	}
	return h.RawFileSystem.Readlink(c, in)
}

func (h *hangFS) Access(c <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Access(c, in)
}

func (h *hangFS) GetXAttr(c <-chan struct{}, in *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return 0, st
	}
	return h.RawFileSystem.GetXAttr(c, in, attr, dest)
}

func (h *hangFS) ListXAttr(c <-chan struct{}, in *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return 0, st
	}
	return h.RawFileSystem.ListXAttr(c, in, dest)
}

func (h *hangFS) SetXAttr(c <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.SetXAttr(c, in, attr, data)
}

func (h *hangFS) RemoveXAttr(c <-chan struct{}, in *fuse.InHeader, attr string) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.RemoveXAttr(c, in, attr)
}

func (h *hangFS) Create(c <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Create(c, in, name, out)
}

func (h *hangFS) Tmpfile(c <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Tmpfile(c, in, out)
}

func (h *hangFS) Open(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Open(c, in, out)
}

func (h *hangFS) Read(c <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return nil, st
	}
	return h.RawFileSystem.Read(c, in, buf)
}

func (h *hangFS) Lseek(c <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Lseek(c, in, out)
}

func (h *hangFS) GetLk(c <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.GetLk(c, in, out)
}

func (h *hangFS) SetLk(c <-chan struct{}, in *fuse.LkIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.SetLk(c, in)
}

func (h *hangFS) SetLkw(c <-chan struct{}, in *fuse.LkIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.SetLkw(c, in)
}

func (h *hangFS) Release(c <-chan struct{}, in *fuse.ReleaseIn) {
	// Nobody waits for RELEASE, but a hung server still holds it back.
	// The handle is freed whatever gate returns.
	h.s.gate(c, in.Pid)
	h.RawFileSystem.Release(c, in)
}

func (h *hangFS) Write(c <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return 0, st
	}
	return h.RawFileSystem.Write(c, in, data)
}

func (h *hangFS) Writev(c <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return 0, st
	}
	return h.RawFileSystem.Writev(c, in, data)
}

func (h *hangFS) CopyFileRange(c <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return 0, st
	}
	return h.RawFileSystem.CopyFileRange(c, in)
}

func (h *hangFS) Ioctl(c <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Ioctl(c, in, inbuf, out, outbuf)
}

func (h *hangFS) Flush(c <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Flush(c, in)
}

func (h *hangFS) Fsync(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Fsync(c, in)
}

func (h *hangFS) Fallocate(c <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Fallocate(c, in)
}

func (h *hangFS) OpenDir(c <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.OpenDir(c, in, out)
}

func (h *hangFS) ReadDir(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.ReadDir(c, in, out)
}

func (h *hangFS) ReadDirPlus(c <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.ReadDirPlus(c, in, out)
}

func (h *hangFS) ReleaseDir(in *fuse.ReleaseIn) {
	h.s.gate(nil, in.Pid) // as Release; RELEASEDIR is never interrupted
	h.RawFileSystem.ReleaseDir(in)
}

func (h *hangFS) FsyncDir(c <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.FsyncDir(c, in)
}

func (h *hangFS) StatFs(c <-chan struct{}, in *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.StatFs(c, in, out)
}

func (h *hangFS) Statx(c <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	if st := h.s.gate(c, in.Pid); !st.Ok() {
		return st
	}
	return h.RawFileSystem.Statx(c, in, out)
}
