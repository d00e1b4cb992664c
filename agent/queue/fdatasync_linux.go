package queue

import (
	"os"

	"golang.org/x/sys/unix"
)

// fdatasync flushes a file's data (and the size, if it grew) without its other metadata.
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
