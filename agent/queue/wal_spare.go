package queue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Spare log files. A sync of a file whose blocks were all written and synced before has
// only data to flush; a sync after appending (or after writing into blocks that were only
// preallocated, which ext4 must then convert) must also commit metadata through the file
// system's journal. Measured on ext4 with 160 KB frames: 194 µs a sync into zeros against
// 394 µs appending and 421 µs preallocated. So the log writes its frames into files it
// filled with zeros and synced ahead of need, in the background, as PostgreSQL does with its
// WAL segments.
//
// One spare is kept ready in the log folder as spareName (not a log file: the reader
// ignores it, and open removes one a crash left behind). The log starts a new file with it
// when a frame does not fit in the current file's zeros; it is renamed to its log-file name
// and the folder synced before any frame in it is acknowledged. Spares start at spareMin
// and double, up to walSegmentMax, while each is used up within spareGrowWithin; a queue
// that writes little keeps small ones. Until a spare is ready (at open, when the log
// outruns the filler, or after a spare could not be made) frames go to an ordinary file, as
// before: slower syncs, same rules. A spare that could not be made is asked for again, no
// sooner than spareRetry later, once a frame does not fit in the current file's zeros.

const (
	spareName       = "spare.tmp"
	spareMin        = 1 << 20
	spareGrowWithin = 10 * time.Second
	spareChunk      = 256 << 10 // zeros written per call
)

// spareRetry is how long after a spare could not be made one is asked for again (a
// variable for tests).
var spareRetry = 10 * time.Second

// spareFault, if set, fails the making of a spare (tests).
var spareFault func() error

// errSpareStopped: the log closed while a spare was being made.
var errSpareStopped = errors.New("write-ahead log closed")

// spares is the wal's spare-file state; its fields are guarded by wal.mu, except the
// channels.
type spares struct {
	on      bool      // spares are made (off in tests of ordinary files)
	asked   bool      // the filler has a request or is making a spare
	retryAt time.Time // a spare could not be made: ask again no sooner than this
	ready   bool      // spareName is filled and synced, not yet in use
	size    int64     // its size
	last    int64     // size of the spare last put in use
	usedAt  time.Time // when that was

	req  chan int64    // ask the filler for a spare of this size (capacity 1)
	stop chan struct{} // closed by close
	done chan struct{} // closed when the filler has returned
	made chan struct{} // signalled (without blocking) each time a spare is ready, for tests
}

// startSpares starts the filler and, if on, asks it for the first spare.
func (w *wal) startSpares(on bool) {
	sp := &w.spares
	sp.req, sp.stop, sp.done = make(chan int64, 1), make(chan struct{}), make(chan struct{})
	sp.made = make(chan struct{}, 1)
	sp.on = on
	w.askSpare(spareMin)
	go w.runFiller()
}

// askSpare asks the filler for a spare of size, unless spares are off, one is asked for or
// ready already, or the last one could not be made less than spareRetry ago. Caller holds
// mu (or owns w exclusively).
func (w *wal) askSpare(size int64) {
	sp := &w.spares
	if !sp.on || sp.asked || sp.ready || time.Now().Before(sp.retryAt) {
		return
	}
	sp.asked = true
	sp.req <- size // never blocks: only asked when nothing is asked
}

// stopSpares stops the filler and removes a spare not put in use.
func (w *wal) stopSpares() {
	sp := &w.spares
	close(sp.stop)
	<-sp.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if sp.ready {
		sp.ready = false
		_ = removeFile(w.dir, spareName)
	}
}

// spareReady reports whether a spare is waiting. Caller holds mu.
func (w *wal) spareReady() bool { return w.spares.ready }

// takeSpare renames the ready spare, if there is one, to path and opens it, returning it
// with the size of its zeros, and asks for the next. It returns nil if there is none or it
// cannot be used (the caller then makes an ordinary file). The spare is closed while it
// waits, so that it can be renamed on every system. Caller holds mu and syncs the folder.
func (w *wal) takeSpare(path string) (*os.File, int64) {
	sp := &w.spares
	if !sp.ready {
		return nil, 0
	}
	sp.ready = false
	size := sp.size
	f, err := renameOpen(filepath.Join(w.dir, spareName), path)
	if err != nil {
		_ = removeFile(w.dir, spareName)
		size = 0
	}
	now := time.Now()
	next := nextSpareSize(sp.last, now.Sub(sp.usedAt))
	sp.last, sp.usedAt = size, now
	w.askSpare(next)
	return f, size
}

// nextSpareSize sizes the next spare from the last one and how long it lasted.
func nextSpareSize(last int64, lasted time.Duration) int64 {
	if last == 0 {
		return spareMin
	}
	if lasted < spareGrowWithin {
		return min(2*last, max(walSegmentMax, spareMin))
	}
	return max(last/2, spareMin)
}

// runFiller makes the spares asked for, one at a time, until stop.
func (w *wal) runFiller() {
	sp := &w.spares
	defer close(sp.done)
	for {
		var size int64
		select {
		case size = <-sp.req:
		case <-sp.stop:
			return
		}
		err := w.makeSpare(size)
		w.mu.Lock()
		sp.asked = false
		if err != nil {
			// No spare: the log writes into ordinary files, more slowly, until a later
			// write asks again. Nothing is lost.
			sp.retryAt = time.Now().Add(spareRetry)
			w.mu.Unlock()
			continue
		}
		sp.ready, sp.size = true, size
		w.mu.Unlock()
		select {
		case sp.made <- struct{}{}:
		default:
		}
	}
}

// makeSpare writes size zero bytes to a new spare file, syncs and closes it.
func (w *wal) makeSpare(size int64) error {
	path := filepath.Join(w.dir, spareName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write-ahead log: spare: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		_ = os.Remove(path)
		return err
	}
	if spareFault != nil {
		if err := spareFault(); err != nil {
			return fail(err)
		}
	}
	zeros := make([]byte, spareChunk)
	for off := int64(0); off < size; off += spareChunk {
		select {
		case <-w.spares.stop:
			return fail(errSpareStopped)
		default:
		}
		if _, err := f.WriteAt(zeros[:min(spareChunk, size-off)], off); err != nil {
			return fail(fmt.Errorf("write-ahead log: spare: %w", err))
		}
	}
	if err := fdatasync(f); err != nil {
		return fail(fmt.Errorf("write-ahead log: spare: sync: %w", err))
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write-ahead log: spare: %w", err)
	}
	return nil
}

// renameOpen renames a closed file and opens it for writing.
func renameOpen(from, to string) (*os.File, error) {
	if err := os.Rename(from, to); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(to, os.O_WRONLY, 0o600)
	if err != nil {
		_ = os.Remove(to)
		return nil, err
	}
	return f, nil
}
