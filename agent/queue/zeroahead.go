package queue

import (
	"fmt"
	"os"
	"runtime"

	bolt "go.etcd.io/bbolt"
)

// bbolt grows its file with a truncate, which leaves a hole: the first write of each new
// page allocates a block, so the sync of that commit must also commit the file system's
// metadata (a journal commit on ext4, measured at about three times a data-only sync). The
// queue keeps zeroAheadBytes of written and synced zeros after the last page bbolt uses, so
// that commits overwrite blocks that exist and their syncs flush data alone. The zeros are
// written only past the pages the last commit's meta page counts (bbolt's high-water
// mark), which no committed state references, and only while no transaction writes
// (under writeMu): bbolt writes pages only when a transaction commits.
const (
	zeroAheadBytes = 8 << 20 // written ahead of the high-water mark
	zeroAheadLow   = 2 << 20 // refilled when less than this is left
	zeroChunk      = 1 << 20
)

var zeros = make([]byte, zeroChunk)

// zeroAhead refills the written zeros after the high-water mark of db, if few are left.
// Caller holds q.mu for reading and writeMu.
func (q *Queue) zeroAhead(db *bolt.DB) error {
	if runtime.GOOS == "windows" {
		return nil // bbolt locks the file there: no second handle writes it
	}
	var used int64
	if err := db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
		return err
	}
	if q.zeroedTo >= used+zeroAheadLow {
		return nil
	}
	from, to := max(q.zeroedTo, used), used+zeroAheadBytes
	f, err := os.OpenFile(q.path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("zero-fill the file ahead of its pages: %w", err)
	}
	defer f.Close()
	for off := from; off < to; off += zeroChunk {
		if _, err := f.WriteAt(zeros[:min(zeroChunk, to-off)], off); err != nil {
			return fmt.Errorf("zero-fill the file ahead of its pages: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("zero-fill the file ahead of its pages: %w", err)
	}
	q.zeroedTo = to
	return nil
}
