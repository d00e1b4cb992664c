package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/writeback-agent/wbagent/agent/seal"
)

// FormatVersion is the layout of the database file this code writes. Format 2 added
// compressed bodies (encBodyS2), which builds that write format 1 cannot decode: they
// refuse a format 2 file at open instead of failing on its records one by one. This code
// reads format 1 too, and marks a format 1 file as 2 when it opens it.
const FormatVersion = 2

// oldestFormat is the oldest layout this code reads.
const oldestFormat = 1

// File and folder names inside the data folder.
const (
	DBFileName = "queue.db"
	BlobsDir   = "blobs"
)

// Bucket and key names. Serialised: never rename.
var (
	bucketMeta    = []byte("meta")
	bucketRecords = []byte("records")
	bucketJobs    = []byte("jobs")
	allBuckets    = [][]byte{bucketMeta, bucketRecords, bucketJobs}

	keyFormat   = []byte("format")
	keyKeyCheck = []byte("keycheck")
)

// keyCheckText is sealed into meta/keycheck to recognise the database's data key.
const keyCheckText = "wbagent/keycheck"

// Associated-data prefixes binding each sealed value to where it is stored.
const (
	adRecords = "wbagent/records\x00" // + the records-bucket key
	adBlob    = "wbagent/blob\x00"    // + record id and attachment index
)

// pageSize is the bbolt page size of a new database file.
const pageSize = 16 << 10

// Defaults for Options.
const (
	DefaultLockTimeout = 5 * time.Second
	DefaultRetention   = 30 * 24 * time.Hour
	maxBatch           = 1024 // operations in one group commit
)

// Errors callers act on. Wrapped errors name the operation and the record.
var (
	ErrNotFound          = errors.New("no such record")
	ErrIllegalTransition = errors.New("illegal state transition")
	ErrLeaseLost         = errors.New("filing lease lost (expired or taken over)")
	ErrNothingReady      = errors.New("nothing ready to file")
	ErrLocked            = errors.New("the queue database is in use by another Writeback Agent")
	ErrClosed            = errors.New("queue closed")
	ErrWiped             = errors.New("patient content removed by retention")
	ErrUnreadable        = errors.New("record cannot be decrypted: the data key does not match this database")
)

// Options configure a Queue. Dir and Key are required.
type Options struct {
	Dir         string        // data folder; holds queue.db and the blobs folder
	Key         []byte        // 32-byte data key (see seal.LoadOrCreateKey)
	LockTimeout time.Duration // how long to wait for another process's lock (default 5 s)
	Retention   time.Duration // how long filed/rejected/cancelled records keep patient content (default 30 days)
	Retry       RetryPolicy   // filing back-off (zero value: DefaultRetryPolicy)
	// CompactMinFreeBytes and CompactMinFreeRatio decide when an idle queue compacts its
	// file: both must be exceeded (defaults 8 MiB and 0.5).
	CompactMinFreeBytes int64
	CompactMinFreeRatio float64
	// IdleAfter is how long without writes makes the queue idle for compaction (default 1 min).
	IdleAfter time.Duration
	Logger    *slog.Logger
	Now       func() time.Time // for tests
	// OnChange, if set, is called after each commit with the records it changed. It must not
	// block: hand the change to a channel or a goroutine.
	OnChange func([]Change)

	noSpares bool // tests: the log writes ordinary files only (no zero-filled spares)
}

// Change reports that a record moved to a state.
type Change struct {
	ID    uint64
	State State
}

// Queue is the durable writeback queue. Its methods are safe for concurrent use.
type Queue struct {
	opts   Options
	sealer *seal.Sealer
	log    *slog.Logger
	now    func() time.Time
	path   string
	blobs  string
	walDir string

	mu sync.RWMutex // guards db against compaction swapping it; write lock only to swap
	db *bolt.DB

	wal     *wal
	walSeq  uint64         // last group logged; only the commit leader touches it
	tail    *staged        // the last group staged; only the commit leader touches it
	local   map[string]int // a group's own writes (wtx.local); only the commit leader touches it
	ap      *applier       // copies logged groups into bbolt
	applyMu sync.RWMutex   // guards ov; held for reading while operations read
	ov      overlay        // logged groups not yet in bbolt
	// applyHook, if set, runs before the applier writes to bbolt (tests: stall or fail it).
	applyHook atomic.Pointer[func() error]

	cmu        sync.Mutex // guards completing
	completing []*staged  // staged groups for the completer, in order
	cwake      chan struct{}
	cstop      chan struct{}
	cdone      chan struct{}
	walErr     error // a frame could not be written: nothing more is (completer only)

	wmu      sync.Mutex // guards waiting
	waiting  []*op      // operations queued for the next group commit, in order
	inflight sync.WaitGroup
	closed   atomic.Bool
	closing  chan struct{} // closed by Close: stops the housekeeper
	hkDone   chan struct{} // closed when the housekeeper has stopped

	idx        *index // derived from the records; see index.go
	claims     claimHints
	unreadable []uint64 // records that failed authentication at open

	nextID    atomic.Uint64 // last id handed out (ids may be allocated before they commit)
	auditSeq  atomic.Uint64 // last audit entry number handed out
	leaseSeq  atomic.Uint64
	lastWrite atomic.Int64 // unix nanos of the last commit
	// compactChecked is the lastWrite value the idle-compaction check last looked at.
	compactChecked atomic.Int64
	idleArmed      atomic.Bool   // the housekeeper knows writes happened since its last idle check
	wake           chan struct{} // pokes the housekeeper when deadlines may have moved
}

// Open opens (creating if needed) the queue in opts.Dir, recovers filings interrupted by a
// crash, sweeps orphaned attachment files and starts the housekeeper.
func Open(opts Options) (*Queue, error) {
	if opts.Dir == "" {
		return nil, errors.New("queue: open: no data folder given")
	}
	sealer, err := seal.New(opts.Key)
	if err != nil {
		return nil, fmt.Errorf("queue: open: %w", err)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Retry == (RetryPolicy{}) {
		opts.Retry = DefaultRetryPolicy
	}
	if opts.CompactMinFreeBytes <= 0 {
		opts.CompactMinFreeBytes = 8 << 20
	}
	if opts.CompactMinFreeRatio <= 0 {
		opts.CompactMinFreeRatio = 0.5
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := &Queue{
		opts:    opts,
		sealer:  sealer,
		log:     opts.Logger.With("component", "queue"),
		now:     opts.Now,
		path:    filepath.Join(opts.Dir, DBFileName),
		blobs:   filepath.Join(opts.Dir, BlobsDir),
		walDir:  filepath.Join(opts.Dir, WALDir),
		ov:      overlay{m: map[string]overlayVal{}},
		closing: make(chan struct{}),
		hkDone:  make(chan struct{}),
		wake:    make(chan struct{}, 1),
		cwake:   make(chan struct{}, 1),
		cstop:   make(chan struct{}),
		cdone:   make(chan struct{}),
		idx:     newIndex(),
	}
	for _, dir := range []string{q.blobs, q.walDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("queue: open: create data folder: %w", err)
		}
	}
	if q.db, err = q.openDB(q.path); err != nil {
		return nil, err
	}
	if err := q.init(); err != nil {
		q.db.Close()
		return nil, err
	}
	go q.runApplier()
	go q.runCompleter()
	go q.housekeeper()
	return q, nil
}

// openDB opens the bbolt file with the options the queue relies on.
func (q *Queue) openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: q.opts.LockTimeout,
		// Rebuilding the freelist on open costs a scan; syncing it on every commit costs
		// rewriting it, which grows with the file (800 KB after a drained 100k backlog).
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// bbolt writes each dirty page with its own pwrite: 16 KiB pages hold several
		// records, so a commit makes a quarter of the calls 4 KiB pages need (measured:
		// enqueue_1 0.47x vs 0.38x fsync, enqueue_64 5.9x vs 5.3x). Set at creation only.
		PageSize:        pageSize,
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("queue: open %s: %w (waited %v): stop the other agent or service first", path, ErrLocked, q.opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: open %s: %w", path, err)
	}
	return db, nil
}

// init creates the buckets, checks the format and the key, builds the index, recovers
// interrupted filings and sweeps orphaned blobs. It runs before anything else can write.
func (q *Queue) init() error {
	var recovered []uint64
	d := newDelta()
	err := q.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyFormat); v == nil {
			if err := meta.Put(keyFormat, u64(FormatVersion)); err != nil {
				return err
			}
		} else if got := binary.BigEndian.Uint64(v); got < oldestFormat || got > FormatVersion {
			return fmt.Errorf("database format %d, this agent reads formats %d to %d: install the agent version that wrote it, or a newer one", got, oldestFormat, FormatVersion)
		} else if got < FormatVersion {
			if err := meta.Put(keyFormat, u64(FormatVersion)); err != nil {
				return err
			}
		}
		return q.checkKey(tx)
	})
	if err != nil {
		return fmt.Errorf("queue: open %s: %w", q.path, err)
	}
	last, err := q.replayWAL()
	if err != nil {
		return fmt.Errorf("queue: open %s: %w", q.path, err)
	}
	err = q.db.Update(func(tx *bolt.Tx) error {
		if err := q.loadIndex(tx); err != nil {
			return err
		}
		var err error
		recovered, err = q.recoverLeases(&wtx{q: q, view: tx}, d, time.Time{})
		return err
	})
	if err != nil {
		return fmt.Errorf("queue: open %s: %w", q.path, err)
	}
	q.idx.apply(d)
	if q.wal, err = openWAL(q.walDir, last+1, !q.opts.noSpares); err != nil {
		return fmt.Errorf("queue: open: %w", err)
	}
	q.walSeq = last
	q.ap = newApplier(last)
	if len(recovered) > 0 {
		q.log.Warn("recovered filings interrupted by a stop; their outcome is checked before re-filing", "records", recovered)
	}
	if err := q.sweepOrphanBlobs(); err != nil {
		return fmt.Errorf("queue: open: %w", err)
	}
	return nil
}

// loadIndex builds the in-memory index from every record, one at a time.
func (q *Queue) loadIndex(tx *bolt.Tx) error {
	d := newDelta()
	var buf []byte
	c := tx.Bucket(bucketRecords).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		id, kind, seq, ok := parseKey(k)
		if !ok {
			return fmt.Errorf("unexpected key %x in the records bucket", k)
		}
		q.nextID.Store(max(q.nextID.Load(), id))
		switch kind {
		case kindAudit:
			q.auditSeq.Store(max(q.auditSeq.Load(), seq))
		case kindRecord:
			var r *Record
			var err error
			if r, buf, err = q.openRecord(id, v, buf); err != nil {
				// One damaged record must not stop the others being filed: leave it in
				// place for investigation, out of the index, and say so.
				q.unreadable = append(q.unreadable, id)
				q.log.Error("a queued record cannot be read and is skipped; it is kept for investigation", "record", id, "err", err)
				continue
			}
			q.track(d, r, "")
		}
	}
	q.idx.apply(d)
	return nil
}

// Unreadable returns the ids of records found damaged (failing authentication) when the
// queue was opened. They are kept, out of the index, for investigation.
func (q *Queue) Unreadable() []uint64 { return slices.Clone(q.unreadable) }

// checkKey proves the data key matches the database: a value sealed with the key when the
// database was created must open.
func (q *Queue) checkKey(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keyKeyCheck)
	if v == nil {
		return meta.Put(keyKeyCheck, q.sealer.Seal(nil, []byte(keyCheckText), []byte(keyCheckText)))
	}
	if _, err := q.sealer.Open(nil, v, []byte(keyCheckText)); err != nil {
		return ErrUnreadable
	}
	return nil
}

// Close waits for the operations already submitted, stops the housekeeper and closes the
// file. Operations submitted after Close fail with ErrClosed.
func (q *Queue) Close() error {
	q.wmu.Lock()
	if q.closed.Swap(true) {
		q.wmu.Unlock()
		return nil
	}
	q.wmu.Unlock()
	q.inflight.Wait()
	close(q.cstop)
	<-q.cdone
	close(q.closing)
	<-q.hkDone
	allApplied := q.ap.stopAndWait()
	q.mu.Lock()
	defer q.mu.Unlock()
	err := q.wal.close(allApplied)
	if err := errors.Join(err, q.db.Close()); err != nil {
		return fmt.Errorf("queue: close: %w", err)
	}
	return nil
}

// Path returns the database file's path.
func (q *Queue) Path() string { return q.path }

// op is one unit of work for a group commit. fn reads and writes through t, noting in d how
// the index changes; it may run more than once (the group is retried without an operation
// that failed), so it must keep its results in variables it overwrites and have no effects
// outside t. after runs once, after the group is durable.
type op struct {
	fn      func(t *wtx, d *delta) error
	after   func()
	changes []Change
	// done carries errLead when this caller is now at the front and commits a group, then
	// (or only) the outcome. An operation is never at the front and answered at once.
	done chan error
}

// errLead tells a waiting caller that it is at the front of the line: it commits a group.
var errLead = errors.New("queue: lead the next group")

// submit commits o, alone or in a group with the operations submitted at the same time,
// and returns its outcome. Group commit without a writer goroutine or a timer: callers queue
// up; the one at the front stages everything queued so far as one group (runs it, writes it
// to the log), hands the front to the next caller and gives the group to the completer,
// which syncs the log and answers the group's callers. Many callers share each sync.
func (q *Queue) submit(ctx context.Context, o *op) error {
	o.done = make(chan error, 1)
	q.wmu.Lock()
	if q.closed.Load() {
		q.wmu.Unlock()
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		q.wmu.Unlock()
		return err
	}
	q.inflight.Add(1)
	defer q.inflight.Done()
	q.waiting = append(q.waiting, o)
	front := len(q.waiting) == 1
	q.wmu.Unlock()
	// Once queued, the operation is carried out even if ctx ends: the caller must learn
	// whether it committed.
	if !front {
		if err := <-o.done; err != errLead {
			return err
		}
	}
	q.leadGroup()
	return <-o.done
}

// leadGroup stages the operations at the front of the queue (up to maxBatch) as a group,
// passes the lead to the next waiting caller, then hands the group to the completer.
// Staging runs the operations and makes their changes visible to the groups that follow;
// the completer writes the group to the log, waits until it is on disk and answers its
// callers. So the next group is prepared while this one is written and synced, and one sync
// can cover several.
func (q *Queue) leadGroup() {
	runtime.Gosched() // let producers that are about to queue up join this group
	q.wmu.Lock()
	n := min(len(q.waiting), maxBatch)
	batch := slices.Clone(q.waiting[:n])
	q.wmu.Unlock()

	staged := q.stage(batch)

	// To the completer before the lead passes: groups must reach it in the order they were
	// staged (each is completed after the one before).
	q.cmu.Lock()
	q.completing = append(q.completing, staged...)
	q.cmu.Unlock()
	select {
	case q.cwake <- struct{}{}:
	default:
	}

	q.wmu.Lock()
	rest := copy(q.waiting, q.waiting[n:])
	clear(q.waiting[rest:])
	q.waiting = q.waiting[:rest]
	if rest > 0 {
		q.waiting[0].done <- errLead
	}
	q.wmu.Unlock()
}

// runCompleter completes staged groups, in the order they were staged, until Close: a sync
// covers every group written before it started, then their callers are answered, and the
// next sync starts at once if more groups were written meanwhile (after gathering the
// callers just answered: see gatherCallers). One goroutine doing both keeps the disk busy:
// when each group's leader synced and answered its own group, the next sync waited for the
// next leader to be scheduled (measured: the median of 8 interleaved cycle runs rose
// 11-14 %).
func (q *Queue) runCompleter() {
	defer close(q.cdone)
	answered := 0 // operations the last sync answered
	for {
		select {
		case <-q.cwake:
		case <-q.cstop:
			return
		}
		for {
			items := q.takeCompleting()
			if len(items) == 0 {
				break
			}
			items = q.gatherCallers(items, answered)
			answered = 0
			for _, s := range items {
				answered += len(s.ops)
				q.complete(s)
			}
		}
	}
}

// gatherWait bounds how long a sync waits for the callers the last one answered.
var gatherWait = time.Millisecond

// gatherCallers returns the staged groups to complete with the next sync: items, and the
// groups staged while it waits for as many operations as the last sync answered (want), up
// to gatherWait. Callers answered together come back together (producers in a loop, a
// clinician's confirmations, the filer's claims); without the wait the first of them to
// return started a sync alone and the rest waited for the next, so each sync covered about
// half of them and every caller waited for two. Measured in make bench (7 interleaved pairs,
// 1 ms): the median enqueue_64 rose 19 % and cycle 13 %; 2 ms did no better. A lone caller
// never waits: the last sync answered one operation, and that one is here.
func (q *Queue) gatherCallers(items []*staged, want int) []*staged {
	have := opsIn(items)
	if have >= want {
		return items
	}
	timer := time.NewTimer(gatherWait)
	defer timer.Stop()
	for have < want {
		select {
		case <-q.cwake:
			more := q.takeCompleting()
			items = append(items, more...)
			have += opsIn(more)
		case <-timer.C:
			return items
		case <-q.cstop:
			return items
		}
	}
	return items
}

// takeCompleting takes the groups staged for the completer so far and writes their frames
// to the log.
func (q *Queue) takeCompleting() []*staged {
	q.cmu.Lock()
	items := q.completing
	q.completing = nil
	q.cmu.Unlock()
	q.writeStaged(items)
	return items
}

// writeStaged appends the frames of staged groups to the log, in order, without syncing
// them. The completer writes them, not the commit leader: it is otherwise idle while the
// callers it answered prepare their next operations, so the write runs beside the staging
// of the next group instead of lengthening it (measured: enqueue_64 +15 %, median of 5
// interleaved pairs). After a write fails nothing more is written (the log must have no
// gap): every group from that one on fails, and the queue refuses writes until a restart
// replays the log.
func (q *Queue) writeStaged(items []*staged) {
	for _, s := range items {
		if s.g == nil {
			continue
		}
		if q.walErr == nil {
			if err := q.wal.write(s.g); err != nil {
				// The log may or may not hold the frame: refuse writes until a restart
				// replays it, rather than guess.
				q.walErr = err
				q.ap.fail(fmt.Errorf("queue: %w", err))
				q.log.Error("the queue cannot write its log; writes are refused until the service restarts", "err", err)
			}
		}
		s.writeErr = q.walErr
	}
}

func opsIn(items []*staged) int {
	n := 0
	for _, s := range items {
		n += len(s.ops)
	}
	return n
}

// staged is a group written to the log (or refused) but not yet answered. Groups complete
// in the order they were staged: each waits for the one before, and fails if it failed,
// since it may have been built on its changes.
type staged struct {
	ops   []*op
	g     *group // nil: nothing to log
	err   error  // the operations' outcome, if they are refused outright
	prev  *staged
	done  chan struct{} // closed when complete
	ok    bool          // it and every group before it are on disk (read after done)
	cause error         // why not
	// writeErr: its frame, or an earlier one, could not be written (set by the completer).
	writeErr error
}

// stage runs batch as one group: every operation against the same view of the queue, their
// changes collected for one frame of the log, which the completer writes. An operation that
// fails is taken out and the group run again without it; it is answered with its own error,
// found at its place in the order (it is not run again after the others: a claim that found
// nothing ready must not take what an operation submitted after it released). Only the
// commit leader calls stage.
func (q *Queue) stage(batch []*op) []*staged {
	var out []*staged
	var refused []*staged
	d := newDelta()
	for len(batch) > 0 {
		if err := q.ap.failed(); err != nil {
			out = append(out, q.chain(&staged{ops: batch, err: err}))
			break
		}
		if q.overlayBytes() > maxOverlayBytes {
			if err := q.applyNow(); err != nil {
				out = append(out, q.chain(&staged{ops: batch, err: err}))
				break
			}
		}
		d.reset()
		t, failed, failErr, err := q.runGroup(batch, d)
		if err != nil {
			out = append(out, q.chain(&staged{ops: batch, err: fmt.Errorf("commit: %w", err)}))
			break
		}
		if failed >= 0 {
			refused = append(refused, &staged{ops: []*op{batch[failed]}, err: failErr})
			batch = append(batch[:failed:failed], batch[failed+1:]...)
			continue
		}
		s := &staged{ops: batch}
		if len(t.muts) > 0 {
			// The completer writes the frame (writeStaged), in the order groups are staged.
			s.g = &group{seq: q.walSeq + 1, muts: t.muts, size: t.size}
			q.walSeq = s.g.seq
			q.applyMu.Lock()
			q.ov.add(s.g)
			q.applyMu.Unlock()
		}
		q.idx.apply(d)
		out = append(out, q.chain(s))
		break
	}
	// Answered after the group: a refusal may rest on the group's changes, so it is chained
	// after them and fails with them if they do not reach the disk.
	for _, r := range refused {
		out = append(out, q.chain(r))
	}
	return out
}

// chain links s after the last staged group.
func (q *Queue) chain(s *staged) *staged {
	s.prev, s.done = q.tail, make(chan struct{})
	q.tail = s
	return s
}

// complete waits until s and every group before it are on disk, then answers its callers.
// Only the completer calls it, group after group, so the group before s is complete; its
// outcome still decides s's, since s may be built on its changes.
func (q *Queue) complete(s *staged) {
	// chainErr: this group's changes, or those it was built on, may not be on disk.
	chainErr := s.writeErr
	if s.g != nil && chainErr == nil {
		if chainErr = q.wal.syncTo(s.g.seq); chainErr != nil {
			q.ap.fail(fmt.Errorf("queue: %w", chainErr))
			q.log.Error("the queue cannot sync its log; writes are refused until the service restarts", "err", chainErr)
		}
	}
	if s.prev != nil {
		<-s.prev.done
		if !s.prev.ok && chainErr == nil {
			chainErr = s.prev.cause
		}
	}
	if chainErr == nil {
		chainErr = q.ap.failed() // an earlier failure may have left this group's basis unsaved
	}
	s.ok, s.cause = chainErr == nil, chainErr
	close(s.done)
	s.prev = nil // let completed groups be collected
	switch {
	case chainErr != nil:
		failAll(s.ops, chainErr)
		return
	case s.err != nil: // refused outright; nothing was written
		failAll(s.ops, s.err)
		return
	}
	if s.g != nil {
		q.ap.hand(s.g)
	}
	q.lastWrite.Store(q.now().UnixNano())
	var changes []Change
	for _, o := range s.ops {
		if o.after != nil {
			o.after()
		}
		changes = append(changes, o.changes...)
		o.done <- nil
	}
	if len(changes) > 0 && q.opts.OnChange != nil {
		q.opts.OnChange(changes)
	}
	if q.movesDeadlines(changes) {
		q.poke()
	}
}

// runGroup runs the operations of batch against one view until one fails.
func (q *Queue) runGroup(batch []*op, d *delta) (t *wtx, failed int, failErr, err error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	q.applyMu.RLock()
	defer q.applyMu.RUnlock()
	view, err := q.db.Begin(false)
	if err != nil {
		return nil, -1, nil, err
	}
	defer view.Rollback()
	// A new record makes four mutations, a transition two. The map of the group's own
	// writes is used by one group at a time (only the commit leader runs groups): reused.
	if q.local == nil {
		q.local = make(map[string]int, 4*len(batch))
	}
	clear(q.local)
	t = &wtx{q: q, view: view, local: q.local, muts: make([]mutation, 0, 4*len(batch))}
	for i, o := range batch {
		if err := o.fn(t, d); err != nil {
			return t, i, err, nil
		}
	}
	return t, -1, nil, nil
}

func failAll(batch []*op, err error) {
	for _, o := range batch {
		o.done <- err
	}
}

func (q *Queue) overlayBytes() int {
	q.applyMu.RLock()
	defer q.applyMu.RUnlock()
	return q.ov.bytes
}

// read returns a copy of the current value of key: from the overlay if a logged group
// changed it, otherwise from bbolt.
func (q *Queue) read(bucket byte, key []byte) ([]byte, error) {
	if q.closed.Load() {
		return nil, ErrClosed
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	q.applyMu.RLock()
	defer q.applyMu.RUnlock()
	if v, ok := q.ov.get(overlayKey(bucket, key)); ok {
		return v, nil // values are never modified once logged
	}
	var out []byte
	err := q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketName(bucket)).Get(key); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

func removeFile(dir, name string) error {
	err := os.Remove(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// movesDeadlines reports whether a commit may have moved one of the housekeeper's
// deadlines: a lease taken, a record reaching a terminal state, or the first write after
// the queue was idle. Other commits leave the housekeeper asleep.
func (q *Queue) movesDeadlines(changes []Change) bool {
	if q.lastWrite.Load() > q.compactChecked.Load() && !q.idleArmed.Swap(true) {
		return true
	}
	for _, c := range changes {
		if c.State == Filing || c.State.Terminal() {
			return true
		}
	}
	return false
}

// poke wakes the housekeeper to recompute its deadlines.
func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// view runs fn in a read transaction of bbolt, after every logged group is applied (scans
// read bbolt alone).
func (q *Queue) view(fn func(tx *bolt.Tx) error) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if err := q.applyNow(); err != nil {
		return err
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.db.View(fn)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func newDelta() *delta {
	return &delta{set: map[uint64]*entry{}, counts: map[State]int{}}
}
