package queue

import (
	"os"
	"runtime/debug"
)

// GCPercent is the garbage collector's target (GOGC) for a process that hosts a busy
// queue: the service, and make bench (for every store it measures, since the setting is
// the process's).
//
// The queue's live heap is small (the overlay of changes not yet applied to bbolt, the
// index) and every enqueue allocates about 7 KB (the sealed values, which the log and the
// overlay keep, bbolt's nodes in the applier, the document). With Go's default of 100 the
// collector ran about 28 times a second at 64 producers, each cycle marking for 5-10 ms
// with a core's worth of workers and assists, on the commit leader's serial path too.
// At 200 it runs half as often. Measured (make bench, enqueue_64, 4 interleaved pairs):
// medians 65.6k/s at 100 against 82.5k/s at 200, every pair faster; LevelDB, which
// allocates less, did not move. The idle service's private memory grew from 13.8 to
// 14.0 MB (10,000-record queue open and scanned); under load the heap may reach three
// times what is live instead of twice: the bench process's RssAnon peaked at 183 MB
// against 128 MB during enqueue_64.
const GCPercent = 200

// TuneGC sets the process's GC target to GCPercent, unless the GOGC environment variable
// is set: an operator's setting wins. It reports whether it set it. Call it once, early in
// main; it changes the whole process.
func TuneGC() bool {
	if _, set := os.LookupEnv("GOGC"); set {
		return false
	}
	debug.SetGCPercent(GCPercent)
	return true
}
