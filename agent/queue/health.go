package queue

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/condition"
)

// Failed writes. A bbolt commit that fails (a write or a sync, or the disk full) is rolled
// back: nothing of its group is visible, and every caller in it gets an error wrapping
// ErrDiskFull or ErrWriteFailed. Whether a failed sync left the group on the disk is
// unknown, so the queue closes the file and opens it again, and rebuilds its index from
// what the file holds: what the queue shows is then what the disk holds. An enqueue that
// failed can be sent again (the job id makes it idempotent). The queue raises a condition
// (Conditions, Options.OnConditions) until a write works again: it tries one of its own
// every ProbeEvery, so the condition clears, and writes work, once the cause is gone,
// without a restart.

// Condition codes the queue raises. Serialised: never change them.
const (
	CodeDiskFull    = "queue-disk-full"
	CodeWriteFailed = "queue-write-failed"
)

// Errors a failed commit wraps.
var (
	ErrDiskFull    = errors.New("the data folder's disk is full")
	ErrWriteFailed = errors.New("writing the queue failed")
)

// keyProbe in the meta bucket is what a probe writes: the time it ran.
var keyProbe = []byte("probe")

// reopenEvery bounds how often a queue whose file could not be reopened tries again.
const reopenEvery = time.Second

type health struct {
	mu         sync.Mutex
	cause      error // the last write's failure, as callers get it; nil: the last write worked
	raw        error // the failure as bbolt reported it
	lastReopen time.Time
}

func (h *health) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cause
}

// withDB runs fn with the open database, reopening it first if a failure closed it.
func (q *Queue) withDB(fn func(db *bolt.DB) error) error {
	q.mu.RLock()
	if q.db == nil {
		q.mu.RUnlock()
		q.reopen(nil)
		q.mu.RLock()
	}
	defer q.mu.RUnlock()
	if q.db == nil {
		if err := q.health.failure(); err != nil {
			return err
		}
		return ErrClosed
	}
	return fn(q.db)
}

// writeFailed records that a commit failed with err, raises the condition, reopens the
// database and returns the error for the callers.
func (q *Queue) writeFailed(err error) error {
	wrapped := q.noteFailure(err)
	q.mu.RLock()
	db := q.db
	q.mu.RUnlock()
	q.reopen(db)
	return wrapped
}

// noteFailure records that a write failed with err (a commit, or an attachment file),
// raises the condition and returns the error for the callers. A failed sync may have left
// the change on the disk or not: the caller must not count on either.
func (q *Queue) noteFailure(err error) error {
	wrapped := fmt.Errorf("queue: %w (the change is not saved, or not known to be; try again): %w", ErrWriteFailed, err)
	if isDiskFull(err) {
		wrapped = fmt.Errorf("queue: %w: the change is not saved; free space on the disk of %s: %w", ErrDiskFull, q.opts.Dir, err)
	}
	q.health.mu.Lock()
	changed := q.health.cause == nil || code(q.health.cause) != code(wrapped)
	q.health.cause, q.health.raw = wrapped, err
	q.health.mu.Unlock()
	q.log.Error("the queue could not save a change; it reopens its file and retries by itself", "err", err)
	if changed {
		q.notifyConditions()
		q.poke() // the housekeeper probes until a write works
	}
	return wrapped
}

// writeWorked clears a failure once a commit worked.
func (q *Queue) writeWorked() {
	q.health.mu.Lock()
	was := q.health.cause
	q.health.cause = nil
	q.health.mu.Unlock()
	if was != nil {
		q.log.Info("the queue saves changes again")
		q.notifyConditions()
	}
}

// reopen closes failed (if it is still the database in use) and opens the file again,
// rebuilding the index from it. With failed nil it opens the file if none is open, at most
// once per reopenEvery.
func (q *Queue) reopen(failed *bolt.DB) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() && failed == nil {
		return
	}
	if failed != nil {
		if q.db != failed {
			return // reopened already
		}
		q.db.Close()
		q.db = nil
	} else if q.db != nil {
		return
	}
	q.health.mu.Lock()
	if failed == nil && time.Since(q.health.lastReopen) < reopenEvery {
		q.health.mu.Unlock()
		return
	}
	q.health.lastReopen = time.Now()
	q.health.mu.Unlock()
	db, err := q.openDB(q.path)
	if err != nil {
		q.log.Error("the queue could not reopen its file; it tries again", "err", err)
		return
	}
	if err := db.View(q.loadIndex); err != nil {
		db.Close()
		q.log.Error("the queue could not read its file after reopening it; it tries again", "err", err)
		return
	}
	q.db = db
	q.writeMu.Lock()
	q.zeroedTo = 0
	q.writeMu.Unlock()
}

// probe tries a write of the queue's own, while the last write failed.
func (q *Queue) probe() {
	if q.health.failure() == nil {
		return
	}
	var failed *bolt.DB
	err := q.withDB(func(db *bolt.DB) error {
		failed = db
		q.writeMu.Lock()
		defer q.writeMu.Unlock()
		return db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keyProbe, u64(uint64(q.now().UnixNano())))
		})
	})
	if err == nil {
		q.writeWorked()
		return
	}
	if failed != nil {
		q.reopen(failed)
	}
}

func code(err error) string {
	if errors.Is(err, ErrDiskFull) {
		return CodeDiskFull
	}
	return CodeWriteFailed
}

// Conditions returns what stands in the way of the queue saving changes: nothing, or one
// condition while its last write failed.
func (q *Queue) Conditions() []condition.Condition {
	q.health.mu.Lock()
	err, raw := q.health.cause, q.health.raw
	q.health.mu.Unlock()
	if err == nil {
		return nil
	}
	where := q.opts.Dir
	if v := filepath.VolumeName(where); v != "" {
		where = v
	}
	if code(err) == CodeDiskFull {
		return []condition.Condition{{
			Code: CodeDiskFull, Severity: condition.Blocking, Owner: condition.IT,
			Title: "The data folder's disk is full — free space on " + where,
			Fix: "Free space on the disk that holds " + q.opts.Dir + " (remove old files, empty the Recycle Bin).\n" +
				"Writeback Agent saves again by itself within seconds once there is space; nothing already queued is lost.\n" +
				"Until then new writebacks stay with the online-consultation platform and are fetched later.",
		}}
	}
	return []condition.Condition{{
		Code: CodeWriteFailed, Severity: condition.Blocking, Owner: condition.IT,
		Title: "Writing the queue failed: " + raw.Error(),
		Fix: "Check the disk that holds " + q.opts.Dir + " (Event Viewer > Windows Logs > System for disk errors) and that antivirus or backup software does not lock queue.db.\n" +
			"Writeback Agent retries by itself every few seconds and clears this once a write works; nothing already queued is lost.\n" +
			"If it does not clear, make a diagnostics bundle (wbagent diag --out diag.zip) and send it to the supplier.",
	}}
}

func (q *Queue) notifyConditions() {
	if q.opts.OnConditions != nil {
		q.opts.OnConditions(q.Conditions())
	}
}
