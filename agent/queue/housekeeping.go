package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/durable"
)

// The housekeeper is a goroutine that sleeps until the next thing the queue must do by
// itself: recover a filing whose lease expired, wipe patient content past retention, or
// compact the file once the queue has been idle. It never polls: it waits on one timer set
// to the earliest deadline, and is woken when a commit may have moved one.

func (q *Queue) housekeeper() {
	defer close(q.hkDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// While the last write failed, try one every ProbeEvery.
		var probe <-chan time.Time
		if q.health.failure() != nil {
			probe = time.After(q.opts.ProbeEvery)
		}
		next := q.nextDeadline()
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(max(next.Sub(q.mono()), time.Millisecond)) // the queue's clock, not the wall's
		}
		select {
		case <-q.closing:
			timer.Stop()
			return
		case <-q.wake:
		case <-timer.C:
			q.housekeep()
		case <-probe:
			q.probe()
		}
	}
}

// nextDeadline returns the earliest lease expiry, retention deadline or idle-compaction
// check (zero if there is none).
func (q *Queue) nextDeadline() time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	lease, wipe := q.idx.nextDue()
	consider(lease)
	consider(wipe)
	if last := q.lastWrite.Load(); last > q.compactChecked.Load() {
		consider(time.Unix(0, last).Add(q.opts.IdleAfter))
	}
	return next
}

// housekeep does whatever is due now.
func (q *Queue) housekeep() {
	ctx := context.Background()
	if err := q.RecoverExpiredLeases(ctx); err != nil && !errors.Is(err, ErrClosed) {
		q.log.Error("recovering expired filing leases failed", "err", err)
	}
	if _, err := q.WipeExpired(ctx); err != nil && !errors.Is(err, ErrClosed) {
		q.log.Error("retention wipe failed", "err", err)
	}
	last := q.lastWrite.Load()
	if last > q.compactChecked.Load() && q.now().Sub(time.Unix(0, last)) >= q.opts.IdleAfter {
		q.compactChecked.Store(last)
		q.idleArmed.Store(false)
		if _, err := q.CompactIfWorthwhile(); err != nil && !errors.Is(err, ErrClosed) {
			q.log.Error("compaction failed", "err", err)
		}
	}
}

// RecoverExpiredLeases puts filings whose lease expired back to ready, flagged outcome
// unknown.
func (q *Queue) RecoverExpiredLeases(ctx context.Context) error {
	o := &op{}
	o.fn = func(t *wtx, d *delta) error {
		ids, err := q.recoverLeases(t, d, q.mono())
		o.changes = o.changes[:0]
		for _, id := range ids {
			o.changes = append(o.changes, Change{ID: id, State: Ready})
		}
		return err
	}
	if err := q.submit(ctx, o); err != nil {
		return fmt.Errorf("queue: recover leases: %w", err)
	}
	if len(o.changes) > 0 {
		q.log.Warn("filing leases expired; those filings are checked before re-filing", "records", len(o.changes))
	}
	return nil
}

// wipeBatch bounds the records wiped in one transaction.
const wipeBatch = 256

// WipeExpired removes the patient content of terminal records past retention, keeping
// their tombstones (ids, outcome, times, audit). It returns how many it wiped.
func (q *Queue) WipeExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		items := q.idx.dueWipes(q.now(), wipeBatch)
		if len(items) == 0 {
			return total, nil
		}
		type wiped struct {
			id   uint64
			refs []AttachmentRef
		}
		var done []wiped
		o := &op{}
		o.fn = func(t *wtx, d *delta) error {
			done = done[:0]
			now := q.now().UTC()
			for _, it := range items {
				r, err := q.getRecord(t, d, it.id)
				if err != nil {
					return err
				}
				if !r.WipedAt.IsZero() {
					continue
				}
				refs := r.Attachments
				r.wipe(now)
				if err := t.del(bRecords, recordKey(it.id, kindBody)); err != nil {
					return err
				}
				if err := q.putRecord(t, d, r, r.State); err != nil {
					return err
				}
				if err := q.appendAudit(t, AuditEntry{At: now, RecordID: it.id, JobID: r.JobID, Action: ActionWiped,
					Actor: Actor{Component: "retention"}}); err != nil {
					return err
				}
				done = append(done, wiped{it.id, refs})
			}
			return nil
		}
		if err := q.submit(ctx, o); err != nil {
			q.idx.requeueWipes(items)
			return total, fmt.Errorf("queue: retention wipe: %w", err)
		}
		for _, w := range done {
			q.removeBlobs(w.id, w.refs)
		}
		total += len(done)
	}
}

// wipe removes everything from the record that could identify the patient.
func (r *Record) wipe(now time.Time) {
	r.WipedAt = now
	r.Version++
	if r.Reason != nil {
		r.Reason = &Reason{Code: r.Reason.Code}
	}
	for i := range r.Attachments {
		r.Attachments[i] = AttachmentRef{Index: i}
	}
}

// CompactIfWorthwhile compacts the file when no filing is in progress and free pages exceed
// both CompactMinFreeBytes and CompactMinFreeRatio of the file. It reports whether it did.
func (q *Queue) CompactIfWorthwhile() (bool, error) {
	if q.closed.Load() {
		return false, ErrClosed
	}
	var size, free int64
	err := q.withDB(func(db *bolt.DB) error {
		free = int64(db.Stats().FreeAlloc)
		return db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	})
	if err != nil {
		return false, fmt.Errorf("queue: compact: %w", err)
	}
	q.idx.mu.RLock()
	busy := len(q.idx.states[Filing]) > 0
	q.idx.mu.RUnlock()
	if busy || size == 0 || free < q.opts.CompactMinFreeBytes || float64(free)/float64(size) < q.opts.CompactMinFreeRatio {
		return false, nil
	}
	return true, q.Compact()
}

// Compact rewrites the database into a new file without free pages and swaps it in (bbolt
// files never shrink by themselves). Writes wait while it runs. The new file keeps the page
// size of the old; it is synced, renamed over the old one and the folder synced. If the file
// cannot be reopened afterwards, operations reopen it when they next need it.
func (q *Queue) Compact() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return ErrClosed
	}
	if q.db == nil {
		return fmt.Errorf("queue: compact: %w", q.health.failure())
	}
	before, _ := os.Stat(q.path)
	tmp := q.path + compactSuffix
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
		PageSize: q.db.Info().PageSize})
	if err != nil {
		return fmt.Errorf("queue: compact: %w", err)
	}
	if err := bolt.Compact(dst, q.db, 16<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("queue: compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("queue: compact: %w", err)
	}
	if err := q.db.Close(); err != nil {
		q.log.Warn("closing the queue file before compaction replaced it failed", "err", err)
	}
	q.db = nil
	renameErr := durable.Rename(tmp, q.path)
	db, err := q.openDB(q.path)
	if err != nil {
		q.log.Error("the queue could not reopen its file after compaction; it tries again when next used", "err", err)
		return fmt.Errorf("queue: compact: reopen: %w (rename: %v)", err, renameErr)
	}
	q.db = db
	q.writeMu.Lock()
	q.zeroedTo = 0
	q.writeMu.Unlock()
	if renameErr != nil {
		os.Remove(tmp)
		return fmt.Errorf("queue: compact: %w", renameErr)
	}
	if after, err := os.Stat(q.path); err == nil && before != nil {
		q.log.Info("compacted the queue file", "before_bytes", before.Size(), "after_bytes", after.Size())
	}
	return nil
}

// compactSuffix names the file compaction writes before it replaces queue.db.
const compactSuffix = ".compact"
