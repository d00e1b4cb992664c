package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The reference rate every store is measured against: how many times per second one
// goroutine can write a 2 KB record to one file and make it durable. A store that
// acknowledges each enqueue only after its own fsync can at best match it (ratio 1×); only
// group commit (one fsync covering many concurrent enqueues) gets above it.
//
// Modes (-fsync-mode):
//
//	append-fdatasync     (default) append 2 KB at the end of the file, then fdatasync (on
//	                     Linux; Sync elsewhere). Each append grows the file, so the
//	                     fdatasync also has to commit the new size: this is what a log /
//	                     WAL / journal append costs, the closest to what the stores do.
//	append-fsync         the same with file.Sync (fsync: also flushes mtime etc.).
//	overwrite-fdatasync  rewrite the same 2 KB at offset 0, then fdatasync: no metadata to
//	                     commit, usually the fastest; an upper bound, not what queues do.
//	overwrite-fsync      the same with file.Sync.
var fsyncModes = []string{"append-fdatasync", "append-fsync", "overwrite-fdatasync", "overwrite-fsync"}

const fsyncRecordSize = 2048

func validFsyncMode(m string) bool {
	for _, x := range fsyncModes {
		if x == m {
			return true
		}
	}
	return false
}

// measureFsync returns write+sync operations per second in mode, on a new file in dir.
func measureFsync(dir, mode string, warmup, d time.Duration) (float64, error) {
	if !validFsyncMode(mode) {
		return 0, fmt.Errorf("unknown fsync mode %q (want one of %s)", mode, strings.Join(fsyncModes, ", "))
	}
	f, err := os.CreateTemp(dir, "fsync-*.dat")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := syncDir(filepath.Dir(f.Name())); err != nil {
		return 0, err
	}
	appendMode := strings.HasPrefix(mode, "append")
	sync := f.Sync
	if strings.HasSuffix(mode, "fdatasync") {
		sync = func() error { return fdatasync(f) }
	}
	buf := make([]byte, fsyncRecordSize)
	for i := range buf {
		buf[i] = byte('a' + i%26)
	}
	var off int64
	op := func() error {
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		if appendMode {
			off += int64(len(buf))
		}
		return sync()
	}
	for end := time.Now().Add(warmup); time.Now().Before(end); {
		if err := op(); err != nil {
			return 0, err
		}
	}
	n, start := 0, time.Now()
	for time.Since(start) < d {
		if err := op(); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// syncDir fsyncs a directory so a new file's directory entry is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
