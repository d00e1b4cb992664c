package queue

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The applier copies logged groups into bbolt in the background, many groups per bbolt
// transaction, and records the last group applied in the same transaction; then the
// overlay forgets them and the log files holding only applied groups are removed. After a
// crash, the groups logged after that number are applied again at open (applying is
// idempotent: puts and deletes of whole values).

// keyWALApplied in the meta bucket holds the number of the last group applied to bbolt.
var keyWALApplied = []byte("walApplied")

const (
	applyBatchBytes = 16 << 20 // at most this much logged data per bbolt transaction
	maxOverlayBytes = 64 << 20 // past this, commits wait for the applier to catch up
	// The applier gathers groups until applyEarlyBytes are waiting, or for up to
	// applyDelay, before a bbolt transaction: fewer, larger transactions (as etcd batches
	// its backend's commits) leave the disk to the log's syncs, which callers wait for, and
	// write a record that changed several times once.
	applyEarlyBytes = 4 << 20
)

// applyDelay is how long the applier gathers groups at most (a variable for tests).
var applyDelay = 100 * time.Millisecond

type applier struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when applied moves or the applier fails
	pending []*group
	logged  uint64 // last group handed over
	applied uint64 // last group applied to bbolt
	err     error  // the applier failed: the queue refuses writes until restarted

	pendingBytes int

	wake  chan struct{} // a group was handed over
	flush chan struct{} // apply now, without gathering
	stop  chan struct{}
	done  chan struct{}
}

func newApplier(applied uint64) *applier {
	a := &applier{logged: applied, applied: applied, wake: make(chan struct{}, 1),
		flush: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	a.cond = sync.NewCond(&a.mu)
	return a
}

// hand queues a logged group for applying.
func (a *applier) hand(g *group) {
	a.mu.Lock()
	a.pending = append(a.pending, g)
	a.pendingBytes += g.size
	a.logged = g.seq
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run applies groups until stop is closed, then applies what is left and returns.
func (q *Queue) runApplier() {
	a := q.ap
	defer close(a.done)
	for {
		select {
		case <-a.wake:
			if !q.gather() {
				q.applyPending()
				return
			}
		case <-a.flush: // someone needs bbolt current now: no gathering
		case <-a.stop:
			q.applyPending()
			return
		}
		q.applyPending()
	}
}

// gather waits until the groups handed over are worth a bbolt transaction: applyDelay has
// passed, applyEarlyBytes are waiting, or someone needs them applied now. It reports false
// if the applier is being stopped.
func (q *Queue) gather() bool {
	a := q.ap
	timer := time.NewTimer(applyDelay)
	defer timer.Stop()
	for {
		a.mu.Lock()
		enough := a.pendingBytes >= applyEarlyBytes
		a.mu.Unlock()
		if enough {
			return true
		}
		select {
		case <-timer.C:
			return true
		case <-a.flush:
			return true
		case <-a.wake:
		case <-a.stop:
			return false
		}
	}
}

// applyPending applies the groups handed over so far, in transactions of up to
// applyBatchBytes. Groups handed over meanwhile wait for the next gathering: under steady
// load, applying "until nothing is pending" would never gather again and would run one
// small transaction after another (measured: 140 a second of 0.1 MB each, rewriting the
// same pages).
func (q *Queue) applyPending() {
	a := q.ap
	a.mu.Lock()
	upTo := a.logged
	a.mu.Unlock()
	for {
		a.mu.Lock()
		if a.err != nil || len(a.pending) == 0 || a.pending[0].seq > upTo {
			a.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(a.pending) && a.pending[n].seq <= upTo && (n == 0 || size+a.pending[n].size <= applyBatchBytes) {
			size += a.pending[n].size
			n++
		}
		batch := a.pending[:n:n]
		a.mu.Unlock()

		err := q.applyGroups(batch)

		a.mu.Lock()
		if err != nil {
			a.err = fmt.Errorf("queue: applying logged changes to the database: %w", err)
			a.cond.Broadcast()
			a.mu.Unlock()
			q.log.Error("the queue cannot write its database; writes are refused until the service restarts", "err", err)
			return
		}
		a.pending = a.pending[n:]
		a.pendingBytes -= size
		if len(a.pending) == 0 {
			a.pending = nil
		}
		last := batch[len(batch)-1].seq
		a.mu.Unlock()

		q.applyMu.Lock()
		q.ov.drop(batch)
		q.applyMu.Unlock()

		if err := q.wal.release(last); err != nil {
			q.log.Warn("could not remove applied write-ahead log files; they are removed later", "err", err)
		}
		a.mu.Lock()
		a.applied = last
		a.cond.Broadcast()
		a.mu.Unlock()
	}
}

// applyGroups writes groups to bbolt in one transaction.
func (q *Queue) applyGroups(gs []*group) error {
	if hook := q.applyHook.Load(); hook != nil {
		if err := (*hook)(); err != nil {
			return err
		}
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.db.Update(func(tx *bolt.Tx) error { return applyToTx(tx, gs) })
}

// applyToTx writes the groups' changes through tx: only the last change of each key (a
// record changes several times in a batch as it moves through its states), in key order
// (bbolt then walks each page once, appending where keys are new).
func applyToTx(tx *bolt.Tx, gs []*group) error {
	records, jobs := tx.Bucket(bucketRecords), tx.Bucket(bucketJobs)
	records.FillPercent = recordsFill
	n := 0
	for _, g := range gs {
		n += len(g.muts)
	}
	muts := make([]*mutation, 0, n)
	for _, g := range gs {
		for i := range g.muts {
			muts = append(muts, &g.muts[i])
		}
	}
	// Stable: of the changes to one key, the latest stays last.
	slices.SortStableFunc(muts, func(a, b *mutation) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
	for i, m := range muts {
		if i+1 < len(muts) && muts[i+1].bucket == m.bucket && bytes.Equal(muts[i+1].key, m.key) {
			continue // changed again later in the batch
		}
		b := records
		if m.bucket == walBucketJobs {
			b = jobs
		}
		var err error
		if m.del {
			err = b.Delete(m.key)
		} else {
			err = b.Put(m.key, m.value)
		}
		if err != nil {
			return fmt.Errorf("groups %d-%d: %w", gs[0].seq, gs[len(gs)-1].seq, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keyWALApplied, u64(gs[len(gs)-1].seq))
}

// applyNow waits until every group logged so far is applied to bbolt (for scans, which
// read bbolt alone).
func (q *Queue) applyNow() error {
	a := q.ap
	a.mu.Lock()
	defer a.mu.Unlock()
	target := a.logged
	if a.applied < target {
		select {
		case a.flush <- struct{}{}:
		default:
		}
	}
	for a.applied < target && a.err == nil {
		a.cond.Wait()
	}
	return a.err
}

// fail stops writes: the log or the database could not be written.
func (a *applier) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.err = err
	}
	a.cond.Broadcast()
}

// failed returns the applier's error, if it failed.
func (a *applier) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// stopAndWait applies what is left and stops the applier; it reports whether everything
// logged is applied.
func (a *applier) stopAndWait() bool {
	close(a.stop)
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err == nil && a.applied == a.logged
}

// replayWAL applies, at open, every logged group bbolt does not have yet, then removes the
// log files. It returns the number of the last group.
func (q *Queue) replayWAL() (uint64, error) {
	var applied uint64
	if err := q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyWALApplied); len(v) == 8 {
			applied = bytesToID(v)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	last := applied
	var batch []*group
	size, replayed := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := q.db.Update(func(tx *bolt.Tx) error { return applyToTx(tx, batch) })
		replayed += len(batch)
		batch, size = nil, 0
		return err
	}
	start := time.Now()
	err := readSegments(q.walDir, func(g *group) error {
		if g.seq <= applied {
			return nil
		}
		if g.seq != last+1 {
			return fmt.Errorf("write-ahead log: group %d missing (found %d)", last+1, g.seq)
		}
		last = g.seq
		batch = append(batch, g)
		if size += g.size; size >= applyBatchBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return 0, fmt.Errorf("replay write-ahead log: %w", err)
	}
	if replayed > 0 {
		q.log.Info("applied logged changes left by a stop", "groups", replayed, "took", time.Since(start).Round(time.Millisecond))
	}
	firsts, err := listSegments(q.walDir)
	if err != nil {
		return 0, err
	}
	for _, f := range firsts {
		if err := removeFile(q.walDir, segmentName(f)); err != nil {
			return 0, fmt.Errorf("replay write-ahead log: remove applied file: %w", err)
		}
	}
	return last, nil
}
