//go:build !linux

package queue

import "os"

// fdatasync flushes a file's data; where there is no fdatasync, File.Sync (fsync on
// Unix, FlushFileBuffers on Windows, F_FULLFSYNC on macOS) does.
func fdatasync(f *os.File) error { return f.Sync() }

// preallocate does nothing here: the log's writes extend the file as they go.
func preallocate(*os.File, int64) {}
