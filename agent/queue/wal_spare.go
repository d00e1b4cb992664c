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
// 394 µs appending and 421 µs preallocated. So the log writes its frames into files whose
// blocks were written and synced ahead of need, as PostgreSQL does with its WAL segments:
// a log file whose groups are all applied, reused; or, when none is at hand, one filled
// with zeros in the background.
//
// One spare is kept ready in the log folder as spareName (not a log file: the reader
// ignores it, and open removes one a crash left behind). The log starts a new file with it
// when a frame does not fit in the current file's written blocks; it is renamed to its
// log-file name and the folder synced before any frame in it is acknowledged.
//
// Reuse first. When the applier has applied every group of a file, the file becomes the
// spare if none is ready or being made and its size suits (wal.recycle): no zeros to write
// (measured: the filler took 9 % of the CPU at 64 producers, and as many bytes went to disk
// again as zeros as went as frames), and no zeros' sync competing with the log's. What
// is left of its old frames after the new ones is told apart by their group numbers
// (readSegment). Only once half of the current file is used with no spare ready is the
// filler asked to make one of zeros. Spares start at spareMin and double, up to
// walSegmentMax, while each is used up within spareGrowWithin; a queue that writes little
// keeps small ones, and a reused file must be at least the size wanted and at most twice
// it. Until a spare is ready (at open, when the log outruns the filler, or after a spare
// could not be made) frames go to an ordinary file: slower syncs, same rules. A spare that
// could not be made is asked for again, no sooner than spareRetry later.

const (
	spareName  = "spare.tmp"
	spareMin   = 1 << 20
	spareChunk = 256 << 10 // zeros written per call
)

// spareGrowWithin: the next spare is twice the last if it was used up within this (a
// variable for tests).
var spareGrowWithin = 10 * time.Second

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
	ready   bool      // spareName is written and synced, not yet in use
	reused  bool      // it is an applied log file, not zeros
	size    int64     // its size (of written blocks)
	last    int64     // size of the spare last put in use
	usedAt  time.Time // when that was
	want    int64     // size wanted for the next spare

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
	sp.want = spareMin
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
// with the size of its written blocks, and sets the size wanted for the next. It returns
// nil if there is none or it cannot be used (the caller then makes an ordinary file). The
// spare is closed while it waits, so that it can be renamed on every system. Caller holds
// mu and syncs the folder.
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
	} else if sp.reused {
		w.reused++
	}
	now := time.Now()
	next := nextSpareSize(sp.last, now.Sub(sp.usedAt))
	sp.last, sp.usedAt, sp.want = size, now, next
	return f, size
}

// recycle makes an applied log file the next spare, if one is wanted and it is big enough
// but not much bigger. Its blocks were all written and synced, so frames written over them
// change no metadata, as in a zero-filled spare; what is left of its old frames is told from
// new ones by their group numbers (readSegment). It reports false if the file is not used
// (the caller removes it). Caller holds mu; the file is closed.
func (w *wal) recycle(s segment) bool {
	sp := &w.spares
	if !sp.on || sp.asked || sp.ready || s.extent < sp.want || s.extent > 2*max(sp.want, spareMin) {
		return false
	}
	if err := os.Rename(filepath.Join(w.dir, segmentName(s.first)), filepath.Join(w.dir, spareName)); err != nil {
		return false
	}
	sp.ready, sp.reused, sp.size = true, true, s.extent
	return true
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
		sp.ready, sp.reused, sp.size = true, false, size
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
