//go:build linux

// Package powercut is a FUSE file system for tests that models what a power cut leaves on a
// disk. It holds its files in memory and keeps every write, truncation and name change
// (create, rename, remove, mkdir) pending until it is made durable: fsync or fdatasync of a
// file makes its data and size durable, fsync of a folder makes the names in it durable. A
// Cut freezes it: from then on every change fails with EIO, and the disk image is what was
// durable plus, in KeepSome mode, a random part of what was pending (each pending write
// whole, not at all, or torn at a 512-byte boundary, independently of the others; each
// pending name change kept or not). Write the image to a folder with Image.WriteTo and
// open it from there.
//
// Every write reaches it (no writeback cache); direct_io is off, so files can be mapped
// (bbolt); reads see pending data; attributes and entries are not cached by the kernel.
// It can also fail fsync with EIO (FailFsync) and writes with ENOSPC (FailWrites).
package powercut

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Sector is the unit a torn write is cut at.
const Sector = 512

// FS is the file system. Its exported fields may be changed while it is mounted, under Lock.
type FS struct {
	mu   sync.Mutex
	root *dir
	cut  bool
	img  *Image

	// Trigger, if set, is called after every change is applied as pending (under the FS's
	// lock, with the file's name, or "" for a folder change, the file's pending changes and
	// the data written, nil if not a write): return true to cut power at that moment. The
	// image is taken at once.
	Trigger func(name string, pendingWrites int, data []byte) bool
	// KeepSome: at a cut, keep a random part of what is pending (else none of it).
	KeepSome bool
	// Rand chooses what a cut keeps.
	Rand *rand.Rand
	// FailFsync, if set, makes fsync and fdatasync of files fail with EIO (nothing made durable).
	FailFsync bool
	// FailWrites, if set, makes writes and growing truncations fail with ENOSPC.
	FailWrites bool
	// OnCut, if set, is called (in its own goroutine) after a cut.
	OnCut func()

	changes int // changes applied so far (stats)
}

// entry is a file or a folder.
type entry interface {
	fs.InodeEmbedder
	isDir() bool
}

type file struct {
	fs.Inode
	fsys    *FS
	nm      string // its latest name, for triggers
	durable []byte
	cur     []byte
	pending []change
}

// change is a pending write (data at off) or truncation (to size).
type change struct {
	off      int64
	data     []byte
	truncate bool
	size     int64
}

type dir struct {
	fs.Inode
	fsys    *FS
	durable map[string]entry
	cur     map[string]entry
	pending [][]nameSet // each: name changes made together (a rename within the folder)
}

// nameSet makes name refer to e (nil: removes it).
type nameSet struct {
	name string
	e    entry
}

func (*file) isDir() bool { return false }
func (*dir) isDir() bool  { return true }

// Load returns a file system holding the contents of folder from (durable).
func Load(from string) (*FS, error) {
	f := &FS{Rand: rand.New(rand.NewPCG(1, 1))}
	root, err := f.load(from)
	if err != nil {
		return nil, err
	}
	f.root = root
	return f, nil
}

func (f *FS) load(path string) (*dir, error) {
	d := &dir{fsys: f, durable: map[string]entry{}, cur: map[string]entry{}}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		p := filepath.Join(path, e.Name())
		var child entry
		if e.IsDir() {
			if child, err = f.load(p); err != nil {
				return nil, err
			}
		} else {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			child = &file{fsys: f, nm: e.Name(), durable: b, cur: slices.Clone(b)}
		}
		d.durable[e.Name()], d.cur[e.Name()] = child, child
	}
	return d, nil
}

// Server is a mounted FS.
type Server struct {
	srv *fuse.Server
	Dir string
}

// Mount mounts f at mnt (an empty folder).
func (f *FS) Mount(mnt string) (*Server, error) {
	zero := time.Duration(0)
	srv, err := fs.Mount(mnt, f.root, &fs.Options{
		EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{FsName: "powercut", Name: "powercut", DisableXAttrs: true, DirectMount: true},
	})
	if err != nil {
		return nil, err
	}
	return &Server{srv: srv, Dir: mnt}, nil
}

// Unmount unmounts the file system (so the kernel's page cache cannot serve lost data).
func (s *Server) Unmount() error {
	var err error
	for range 50 {
		if err = s.srv.Unmount(); err == nil {
			s.srv.Wait()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Lock and Unlock guard the exported fields while mounted.
func (f *FS) Lock()   { f.mu.Lock() }
func (f *FS) Unlock() { f.mu.Unlock() }

// Cut cuts power now, if it was not cut already, and returns the image.
func (f *FS) Cut() *Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutLocked()
	return f.img
}

// Image returns the image taken at the cut (nil before).
func (f *FS) Image() *Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.img
}

// Changes returns how many changes were applied.
func (f *FS) Changes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes
}

func (f *FS) cutLocked() {
	if f.cut {
		return
	}
	f.cut = true
	f.img = f.root.image(f)
	if f.OnCut != nil {
		go f.OnCut()
	}
}

// applied counts a change and cuts if the trigger says so. Caller holds mu.
func (f *FS) applied(name string, pending int, data []byte) {
	f.changes++
	if f.Trigger != nil && f.Trigger(name, pending, data) {
		f.cutLocked()
	}
}

// Image is what a disk holds after a cut: folders and files by name.
type Image struct {
	Dirs  map[string]*Image
	Files map[string][]byte
	// Lost counts pending changes the cut dropped or tore (stats).
	Lost, Torn, Kept int
}

func (d *dir) image(f *FS) *Image {
	img := &Image{Dirs: map[string]*Image{}, Files: map[string][]byte{}}
	names := mapsClone(d.durable)
	for _, op := range d.pending {
		if !f.KeepSome || f.Rand.IntN(2) == 0 {
			img.Lost++
			continue
		}
		img.Kept++
		for _, s := range op {
			if s.e == nil {
				delete(names, s.name)
			} else {
				names[s.name] = s.e
			}
		}
	}
	for name, e := range names {
		switch e := e.(type) {
		case *dir:
			sub := e.image(f)
			img.Dirs[name] = sub
			img.Lost, img.Torn, img.Kept = img.Lost+sub.Lost, img.Torn+sub.Torn, img.Kept+sub.Kept
		case *file:
			img.Files[name] = e.image(f, img)
		}
	}
	return img
}

// image returns the file's durable data with a random part of its pending changes.
// A file reachable under two names (a rename made durable in one folder only) is imaged
// once per name, each time with its own random choice: the disk may hold either.
func (fl *file) image(f *FS, img *Image) []byte {
	b := slices.Clone(fl.durable)
	for _, c := range fl.pending {
		if !f.KeepSome {
			img.Lost++
			continue
		}
		switch k := f.Rand.IntN(3); {
		case k == 0:
			img.Lost++
		case c.truncate:
			img.Kept++
			b = resize(b, c.size)
		case k == 1:
			img.Kept++
			b = writeAt(b, c.off, c.data)
		default:
			// Torn at a sector boundary inside the write: its first part or its last.
			first := (c.off/Sector + 1) * Sector
			end := c.off + int64(len(c.data))
			if first >= end {
				img.Lost++ // within one sector: a sector is written whole or not at all
				continue
			}
			cuts := (end - first + Sector - 1) / Sector
			at := first + f.Rand.Int64N(cuts)*Sector
			img.Torn++
			if f.Rand.IntN(2) == 0 {
				b = writeAt(b, c.off, c.data[:at-c.off])
			} else {
				b = writeAt(b, at, c.data[at-c.off:])
			}
		}
	}
	return b
}

// WriteTo writes the image into folder to (which must not exist), files synced.
func (img *Image) WriteTo(to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for name, sub := range img.Dirs {
		if err := sub.WriteTo(filepath.Join(to, name)); err != nil {
			return err
		}
	}
	for name, b := range img.Files {
		if err := writeSparse(filepath.Join(to, name), b); err != nil {
			return err
		}
	}
	return nil
}

// writeSparse writes b to path, leaving blocks of zeros as holes.
func writeSparse(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(int64(len(b)))
	const block = 64 << 10
	for off := 0; off < len(b) && err == nil; off += block {
		chunk := b[off:min(off+block, len(b))]
		if !allZero(chunk) {
			_, err = f.WriteAt(chunk, int64(off))
		}
	}
	return errors.Join(err, f.Close())
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (img *Image) String() string {
	return fmt.Sprintf("kept %d pending changes, lost %d, tore %d", img.Kept, img.Lost, img.Torn)
}

func mapsClone(m map[string]entry) map[string]entry {
	out := make(map[string]entry, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

func writeAt(b []byte, off int64, data []byte) []byte {
	if end := off + int64(len(data)); end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[off:], data)
	return b
}

// --- folders ---

var (
	_ fs.NodeCreater   = (*dir)(nil)
	_ fs.NodeMkdirer   = (*dir)(nil)
	_ fs.NodeUnlinker  = (*dir)(nil)
	_ fs.NodeRmdirer   = (*dir)(nil)
	_ fs.NodeRenamer   = (*dir)(nil)
	_ fs.NodeFsyncer   = (*dir)(nil)
	_ fs.NodeGetattrer = (*dir)(nil)
	_ fs.NodeSetattrer = (*dir)(nil)
	_ fs.NodeOnAdder   = (*dir)(nil)
)

// OnAdd builds the kernel-visible tree of what was loaded.
func (d *dir) OnAdd(ctx context.Context) {
	for name, e := range d.cur {
		d.AddChild(name, d.NewPersistentInode(ctx, e, stable(e)), false)
	}
}

func stable(e entry) fs.StableAttr {
	if e.isDir() {
		return fs.StableAttr{Mode: syscall.S_IFDIR}
	}
	return fs.StableAttr{Mode: syscall.S_IFREG}
}

func (d *dir) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o700
	return 0
}

func (d *dir) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o700
	return 0
}

// set records name changes in d, made together. Caller holds mu.
func (d *dir) set(sets ...nameSet) {
	for _, s := range sets {
		if s.e == nil {
			delete(d.cur, s.name)
		} else {
			d.cur[s.name] = s.e
		}
	}
	d.pending = append(d.pending, sets)
}

func (d *dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f := d.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return nil, nil, 0, syscall.EIO
	}
	if _, ok := d.cur[name]; ok && flags&syscall.O_EXCL != 0 {
		return nil, nil, 0, syscall.EEXIST
	}
	fl := &file{fsys: f, nm: name}
	d.set(nameSet{name, fl})
	f.applied(name, 0, nil)
	out.Mode = syscall.S_IFREG | 0o600
	return d.NewPersistentInode(ctx, fl, stable(fl)), nil, 0, 0
}

func (d *dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	f := d.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return nil, syscall.EIO
	}
	if _, ok := d.cur[name]; ok {
		return nil, syscall.EEXIST
	}
	sub := &dir{fsys: f, durable: map[string]entry{}, cur: map[string]entry{}}
	d.set(nameSet{name, sub})
	f.applied("", 0, nil)
	out.Mode = syscall.S_IFDIR | 0o700
	return d.NewPersistentInode(ctx, sub, stable(sub)), 0
}

func (d *dir) remove(name string, wantDir bool) syscall.Errno {
	f := d.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return syscall.EIO
	}
	e, ok := d.cur[name]
	if !ok {
		return syscall.ENOENT
	}
	if e.isDir() != wantDir {
		if wantDir {
			return syscall.ENOTDIR
		}
		return syscall.EISDIR
	}
	if wantDir && len(e.(*dir).cur) > 0 {
		return syscall.ENOTEMPTY
	}
	d.set(nameSet{name, nil})
	f.applied("", 0, nil)
	return 0
}

func (d *dir) Unlink(ctx context.Context, name string) syscall.Errno { return d.remove(name, false) }
func (d *dir) Rmdir(ctx context.Context, name string) syscall.Errno  { return d.remove(name, true) }

func (d *dir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	f := d.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return syscall.EIO
	}
	if flags != 0 {
		return syscall.EINVAL
	}
	to, ok := newParent.(*dir)
	if !ok {
		return syscall.EXDEV
	}
	e, ok := d.cur[name]
	if !ok {
		return syscall.ENOENT
	}
	if fl, ok := e.(*file); ok {
		fl.nm = newName
	}
	if to == d {
		d.set(nameSet{name, nil}, nameSet{newName, e})
	} else {
		d.set(nameSet{name, nil})
		to.set(nameSet{newName, e})
	}
	f.applied(newName, 0, nil)
	return 0
}

// Fsync of a folder makes its names durable.
func (d *dir) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f := d.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return syscall.EIO
	}
	d.durable = mapsClone(d.cur)
	d.pending = nil
	return 0
}

// --- files ---

var (
	_ fs.NodeOpener    = (*file)(nil)
	_ fs.NodeReader    = (*file)(nil)
	_ fs.NodeWriter    = (*file)(nil)
	_ fs.NodeFsyncer   = (*file)(nil)
	_ fs.NodeFlusher   = (*file)(nil)
	_ fs.NodeGetattrer = (*file)(nil)
	_ fs.NodeSetattrer = (*file)(nil)
)

// Open keeps the kernel's page cache of the file from an earlier open out (no KEEP_CACHE)
// and leaves direct_io off, so the file can be mapped.
func (fl *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, 0
}

func (fl *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fl.fsys.mu.Lock()
	defer fl.fsys.mu.Unlock()
	out.Mode = syscall.S_IFREG | 0o600
	out.Size = uint64(len(fl.cur))
	out.Blocks = (out.Size + 511) / 512
	return 0
}

func (fl *file) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	f := fl.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if sz, ok := in.GetSize(); ok {
		if f.cut {
			return syscall.EIO
		}
		if f.FailWrites && int64(sz) > int64(len(fl.cur)) {
			return syscall.ENOSPC
		}
		fl.cur = resize(fl.cur, int64(sz))
		fl.pending = append(fl.pending, change{truncate: true, size: int64(sz)})
		f.applied(fl.name(), len(fl.pending), nil)
	}
	out.Mode = syscall.S_IFREG | 0o600
	out.Size = uint64(len(fl.cur))
	return 0
}

func (fl *file) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	fl.fsys.mu.Lock()
	defer fl.fsys.mu.Unlock()
	if off >= int64(len(fl.cur)) {
		return fuse.ReadResultData(nil), 0
	}
	n := copy(dest, fl.cur[off:])
	return fuse.ReadResultData(dest[:n]), 0
}

func (fl *file) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	f := fl.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return 0, syscall.EIO
	}
	if f.FailWrites {
		return 0, syscall.ENOSPC
	}
	fl.cur = writeAt(fl.cur, off, data)
	fl.pending = append(fl.pending, change{off: off, data: slices.Clone(data)})
	f.applied(fl.name(), len(fl.pending), data)
	return uint32(len(data)), 0
}

// Fsync (and fdatasync) makes the file's data and size durable.
func (fl *file) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	f := fl.fsys
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut || f.FailFsync {
		return syscall.EIO
	}
	for _, c := range fl.pending { // cur is durable with the pending changes applied
		if c.truncate {
			fl.durable = resize(fl.durable, c.size)
		} else {
			fl.durable = writeAt(fl.durable, c.off, c.data)
		}
	}
	fl.pending = nil
	return 0
}

func (fl *file) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return 0 }

// name returns the file's latest name, for triggers. Caller holds mu.
func (fl *file) name() string { return fl.nm }
