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

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/durable"
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
	// OnConditions, if set, is called with the queue's conditions (see Conditions) each time
	// they change: raised when a write fails, cleared when writing works again. It must not
	// block.
	OnConditions func([]condition.Condition)
	// ProbeEvery is how often a queue whose last write failed tries a write of its own, so
	// that it notices by itself when the cause is gone (default 5 s).
	ProbeEvery time.Duration

	// mono is the clock leases and back-off are measured against (tests). By default
	// time.Now, whose monotonic reading makes them immune to jumps of the wall clock; Now
	// if only Now is set (a fake clock for both).
	mono func() time.Time
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
	now    func() time.Time // wall clock: what records say
	mono   func() time.Time // deadlines in memory (see Options.mono)
	path   string
	blobs  string

	// mu guards db: held for reading while it is used, for writing to swap it (compaction,
	// reopening after a failed write). db is nil while it could not be reopened.
	mu sync.RWMutex
	db *bolt.DB

	health health // the last write's failure, if it failed (health.go)

	// writeMu is held by whatever writes the file: a group's transaction, a probe, the
	// zeros written ahead of bbolt's pages (zeroahead.go). zeroedTo is where those end (0:
	// not known, after an open).
	writeMu  sync.Mutex
	zeroedTo int64

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

// Open opens (creating if needed) the queue in opts.Dir, applies what an older build's
// write-ahead log holds, recovers filings interrupted by a stop, sweeps orphaned attachment
// files and starts the housekeeper.
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
	if opts.ProbeEvery <= 0 {
		opts.ProbeEvery = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.mono == nil {
		opts.mono = opts.Now
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.mono == nil {
		opts.mono = time.Now
	}
	q := &Queue{
		opts:    opts,
		sealer:  sealer,
		log:     opts.Logger.With("component", "queue"),
		now:     opts.Now,
		mono:    opts.mono,
		path:    filepath.Join(opts.Dir, DBFileName),
		blobs:   filepath.Join(opts.Dir, BlobsDir),
		closing: make(chan struct{}),
		hkDone:  make(chan struct{}),
		wake:    make(chan struct{}, 1),
		idx:     newIndex(),
	}
	if err := makeDirs(opts.Dir, q.blobs); err != nil {
		return nil, fmt.Errorf("queue: open: create data folder: %w", err)
	}
	if q.db, err = q.openDB(q.path); err != nil {
		return nil, err
	}
	if err := q.init(); err != nil {
		q.db.Close()
		return nil, err
	}
	go q.housekeeper()
	return q, nil
}

// makeDirs creates the data folder and the blobs folder and makes their names durable: a
// record committed after Open must not lose its file or folder to a power cut.
func makeDirs(dir, blobs string) error {
	for _, d := range []string{dir, blobs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return errors.Join(durable.SyncDir(filepath.Dir(filepath.Clean(dir))), durable.SyncDir(dir))
}

// openDB opens the bbolt file with the options the queue relies on, and makes its name
// durable (bbolt does not sync the folder when it creates the file).
func (q *Queue) openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: q.opts.LockTimeout,
		// Rebuilding the freelist on open costs a scan; syncing it on every commit costs
		// rewriting it, which grows with the file.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// bbolt writes each dirty page with its own pwrite: 16 KiB pages hold several
		// records. Used when the file is created; an existing file keeps its page size.
		PageSize:        pageSize,
		InitialMmapSize: initialMmapSize,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("queue: open %s: %w (waited %v): stop the other agent or service first", path, ErrLocked, q.opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("queue: open %s: %w", path, err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		db.Close()
		return nil, fmt.Errorf("queue: open %s: sync folder: %w", path, err)
	}
	return db, nil
}

// init creates the buckets, checks the format and the key, applies an older build's log,
// builds the index, recovers interrupted filings and sweeps orphaned blobs. It runs before
// anything else can write.
func (q *Queue) init() error {
	var recovered []uint64
	d := newDelta()
	if err := removeFile(q.opts.Dir, DBFileName+compactSuffix); err != nil { // an interrupted compaction's
		return fmt.Errorf("queue: open: %w", err)
	}
	if err := q.prepareDB(); err != nil {
		return fmt.Errorf("queue: open %s: %w", q.path, err)
	}
	if err := q.replayOldWAL(); err != nil {
		return fmt.Errorf("queue: open %s: %w", q.path, err)
	}
	err := q.db.Update(func(tx *bolt.Tx) error {
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
	if len(recovered) > 0 {
		q.log.Warn("recovered filings interrupted by a stop; their outcome is checked before re-filing", "records", recovered)
	}
	if err := q.sweepOrphanBlobs(); err != nil {
		return fmt.Errorf("queue: open: %w", err)
	}
	return nil
}

// prepareDB creates the buckets and the key check if they are missing, marks an older
// format as the current one, and checks the key. It writes only if something is missing
// or older, so a database on a full disk opens.
func (q *Queue) prepareDB() error {
	ready := false
	err := q.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return nil
			}
		}
		meta := tx.Bucket(bucketMeta)
		v, kc := meta.Get(keyFormat), meta.Get(keyKeyCheck)
		if v == nil || kc == nil {
			return nil
		}
		if got := binary.BigEndian.Uint64(v); got != FormatVersion {
			return nil
		}
		ready = true
		return q.checkKey(tx)
	})
	if err != nil || ready {
		return err
	}
	return q.db.Update(func(tx *bolt.Tx) error {
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
}

// loadIndex builds the in-memory index from every record, one at a time, and puts it in
// place of the one there.
func (q *Queue) loadIndex(tx *bolt.Tx) error {
	d := newDelta()
	q.unreadable = nil
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
	x := newIndex()
	x.apply(d)
	q.idx.replace(x)
	return nil
}

// Unreadable returns the ids of records found damaged (failing authentication) when the
// queue was opened. They are kept, out of the index, for investigation.
func (q *Queue) Unreadable() []uint64 {
	q.mu.RLock() // loadIndex sets it with mu held (a reopen) or before Open returns
	defer q.mu.RUnlock()
	return slices.Clone(q.unreadable)
}

// checkKey proves the data key matches the database: a value sealed with the key when the
// database was created must open.
func (q *Queue) checkKey(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	v := meta.Get(keyKeyCheck)
	if v == nil {
		if !tx.Writable() {
			return nil
		}
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
	close(q.closing)
	<-q.hkDone
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.db == nil {
		return nil
	}
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("queue: close: %w", err)
	}
	return nil
}

// Path returns the database file's path.
func (q *Queue) Path() string { return q.path }

// op is one unit of work for a group commit. fn reads and writes through t, noting in d how
// the index changes; it may run more than once (the group is run again without an operation
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

// errNoWrites ends a group's transaction that has nothing to write: no commit, no sync.
var errNoWrites = errors.New("queue: nothing to write")

// submit commits o, alone or in a group with the operations submitted at the same time,
// and returns its outcome once the group's bbolt transaction has committed (bbolt syncs
// the file before Commit returns). Group commit without a writer goroutine or a timer:
// callers queue up; the one at the front runs everything queued so far in one transaction,
// commits it, answers its callers and hands the front to the next caller.
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

// leadGroup commits the operations at the front of the line (up to maxBatch) as one group,
// then passes the lead to the next waiting caller.
func (q *Queue) leadGroup() {
	runtime.Gosched() // let producers that are about to queue up join this group
	q.wmu.Lock()
	n := min(len(q.waiting), maxBatch)
	batch := slices.Clone(q.waiting[:n])
	q.wmu.Unlock()

	q.commitGroup(batch)

	q.wmu.Lock()
	rest := copy(q.waiting, q.waiting[n:])
	clear(q.waiting[rest:])
	q.waiting = q.waiting[:rest]
	if rest > 0 {
		q.waiting[0].done <- errLead
	}
	q.wmu.Unlock()
}

// refusal is an operation taken out of a group, with its error.
type refusal struct {
	o   *op
	err error
}

// commitGroup runs batch in one bbolt transaction and answers its callers. An operation
// that fails is taken out and the group run again without it; it is answered with its own
// error (it is not run again after the others: a claim that found nothing ready must not
// take what an operation submitted after it released). If the commit fails, every
// operation fails with that error, nothing of the group is visible, the queue raises a
// condition and reopens its file (health.go).
func (q *Queue) commitGroup(batch []*op) {
	var refused []refusal
	d := newDelta()
	err := q.withDB(func(db *bolt.DB) error {
		q.writeMu.Lock()
		defer q.writeMu.Unlock()
		err := db.Update(func(tx *bolt.Tx) error {
			for {
				d.reset()
				t := &wtx{q: q, view: tx, local: make(map[string]int, 4*len(batch)), muts: make([]mutation, 0, 4*len(batch))}
				failed, failErr := -1, error(nil)
				for i, o := range batch {
					if err := o.fn(t, d); err != nil {
						failed, failErr = i, err
						break
					}
				}
				if failed < 0 {
					if len(t.muts) == 0 {
						return errNoWrites
					}
					return t.flush()
				}
				refused = append(refused, refusal{batch[failed], failErr})
				batch = append(batch[:failed:failed], batch[failed+1:]...)
			}
		})
		if err == nil {
			// Best effort: without the zeros, commits still work, their syncs slower.
			if zerr := q.zeroAhead(db); zerr != nil {
				q.log.Warn("could not write zeros ahead of the queue file's pages", "err", zerr)
			}
		}
		return err
	})
	if err != nil && !errors.Is(err, errNoWrites) {
		err = q.writeFailed(err)
		failAll(batch, err)
		for _, r := range refused {
			r.o.done <- err // it may rest on the group's changes, which are not saved
		}
		return
	}
	q.idx.apply(d)
	if err == nil {
		q.writeWorked()
	}
	q.lastWrite.Store(q.now().UnixNano())
	var changes []Change
	for _, o := range batch {
		if o.after != nil {
			o.after()
		}
		changes = append(changes, o.changes...)
		o.done <- nil
	}
	for _, r := range refused {
		r.o.done <- r.err
	}
	if len(changes) > 0 && q.opts.OnChange != nil {
		q.opts.OnChange(changes)
	}
	if q.movesDeadlines(changes) {
		q.poke()
	}
}

func failAll(batch []*op, err error) {
	for _, o := range batch {
		o.done <- err
	}
}

// read returns a copy of the committed value of key.
func (q *Queue) read(bucket byte, key []byte) ([]byte, error) {
	var out []byte
	err := q.view(func(tx *bolt.Tx) error {
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

// view runs fn in a read transaction of bbolt.
func (q *Queue) view(fn func(tx *bolt.Tx) error) error {
	if q.closed.Load() {
		return ErrClosed
	}
	return q.withDB(func(db *bolt.DB) error { return db.View(fn) })
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func newDelta() *delta {
	return &delta{set: map[uint64]*entry{}, counts: map[State]int{}}
}
