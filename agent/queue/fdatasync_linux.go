package queue

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes a file's data (and the size, if it grew) without its other metadata.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// preallocate reserves the file's blocks up to size (and extends its size to it), so that
// overwriting them later changes no metadata and an fdatasync has only data to flush. A
// file system that cannot preallocate is left as it is: the log works without.
func preallocate(f *os.File, size int64) {
	_ = unix.Fallocate(int(f.Fd()), 0, 0, size)
}
