// Package filer is the filing engine: it takes writebacks from the queue through the
// pre-filing checks and files them into the clinical system, exactly once.
//
// One loop (Run) does, each time something may have changed:
//
//  1. probe the authors who need it (never probed, paused and due for another try, or
//     named by Recheck);
//  2. check received records of healthy authors (package checks, against the patient the
//     clinical system finds) and move them on with MarkChecked, or stop them with
//     NeedsAttention and a reason;
//  3. claim ready records of healthy authors and file them.
//
// Checks and filings run in goroutines, up to Workers of each at a time.
//
// It sleeps in between, on a channel and one timer: woken by OnChange (the queue's change
// notifications), by a filing finishing, by Recheck, or when the earliest back-off or
// re-probe falls due. It never polls.
//
// A filing first finds the patient again and repeats the patient checks (the record may
// have waited days for confirmation), then files under the writeback's deterministic
// consultation GUID. A record whose last attempt may have reached the clinical system (a
// timeout, a dropped connection, a server error, a crash: the queue's OutcomeUnknown) is
// looked up by that GUID first, and counted filed if it is there. The clinical system's
// refusal of a duplicate GUID counts as filed only once the look-up confirms it.
//
// Failures are handled by their clinical.Kind: a passing failure is retried with the
// queue's back-off; a failure of the author's integration (not linked, session, EMAS Manager
// access, role) releases the record without counting an attempt and pauses the author until
// a probe succeeds (Authors reports why); a failure that retrying cannot mend stops the
// record for a person, with a reason and the fix.
//
// Nothing the engine writes into attempt histories, audit details or logs names a patient:
// it records reason codes, operation names, HTTP statuses and outcome numbers.
package filer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Config configures an Engine.
type Config struct {
	Queue  *queue.Queue
	System clinical.System
	// Checks is the pre-filing checks' policy, normally checks.DefaultPolicy(the practice's
	// ODS code). Its zero value allows no attachment.
	Checks checks.Policy
	// Owner names the engine in filing leases and the audit trail (default "filer").
	Owner string
	// Lease is how long a claimed record is held (default 5 minutes). A filing still running
	// at 80% of it is abandoned, its outcome unknown.
	Lease time.Duration
	// Workers is how many records are checked, and how many filed, at once (default 2).
	Workers int
	// Reprobe is the back-off between probes of a paused author (its MaxAttempts is not
	// used); the zero value means DefaultReprobe.
	Reprobe queue.RetryPolicy
	// CheckRetry is the back-off between checks of a received record that the clinical
	// system failed for a passing reason (MaxAttempts unused); the zero value means
	// DefaultCheckRetry. A filing's back-off is the queue's (queue.Options.Retry).
	CheckRetry queue.RetryPolicy
	// ReadRetry is the first wait before a read that failed for a passing reason is tried
	// again within the same check or attempt (then twice as long; jittered); the zero value
	// means DefaultReadRetry.
	ReadRetry time.Duration
	// UnreachableAfter is how many calls in a row for one author must go unanswered (no
	// answer, a gateway error or 503) before the author is paused as unreachable; the
	// default is DefaultUnreachableAfter. Any answer resets the count.
	UnreachableAfter int
	// OnHealth, if set, is called (outside the engine's lock, never concurrently with
	// itself for one change) whenever an author's health or the cause of their pause
	// changes: the integration watcher shows it at once. It must not block.
	OnHealth func()
	Logger   *slog.Logger
}

// Defaults for Config.
const (
	DefaultOwner   = "filer"
	DefaultLease   = 5 * time.Minute
	DefaultWorkers = 2
)

// DefaultCheckRetry checks a record again after about 1–2 s, then 1.5–3 s, 2.3–4.5 s …
// (×1.5), at most every 5 minutes, when the clinical system failed for a passing reason.
var DefaultCheckRetry = queue.RetryPolicy{Initial: 2 * time.Second, Max: 5 * time.Minute, Multiplier: 1.5, Jitter: 0.5}

// DefaultReadRetry is Config.ReadRetry's default: reads are tried again after about
// 0.08–0.15 s, then 0.15–0.3 s (a filing worker waits meanwhile, so the waits are short).
const DefaultReadRetry = 150 * time.Millisecond

// DefaultUnreachableAfter is Config.UnreachableAfter's default.
const DefaultUnreachableAfter = 4

// DefaultReprobe probes a paused author again after about 30 s, then 1, 2, 4 … minutes, at
// most every 10 minutes.
var DefaultReprobe = queue.RetryPolicy{Initial: 30 * time.Second, Max: 10 * time.Minute, Multiplier: 2, Jitter: 0.2}

// probeTimeout bounds a probe of an author's integration.
const probeTimeout = time.Minute

// Engine is the filing engine. Its methods are safe for concurrent use.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{} // a pass may find work; capacity 1
	done chan job      // a check or filing finished; capacity 2×Workers

	mu       sync.Mutex
	authors  map[string]*author
	checking map[uint64]bool        // records being checked
	deferred map[uint64]*checkRetry // received records whose check failed for a passing reason
	// holdUntil: the clinical system asked (Retry-After) for no calls before then.
	holdUntil time.Time
}

// checkRetry is the back-off of a record whose check failed for a passing reason.
type checkRetry struct {
	failures int
	next     time.Time
}

// job is a check or a filing running in its own goroutine.
type job int

const (
	checkJob job = iota
	fileJob
)

// running counts the jobs in progress; only Run's goroutine uses it.
type running struct {
	checks, filings int
	wg              sync.WaitGroup
}

// New returns an engine; Run starts it.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Queue == nil:
		return nil, errors.New("filer: a queue is required")
	case cfg.System == nil:
		return nil, errors.New("filer: a clinical system is required")
	}
	if cfg.Owner == "" {
		cfg.Owner = DefaultOwner
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Reprobe == (queue.RetryPolicy{}) {
		cfg.Reprobe = DefaultReprobe
	}
	if cfg.CheckRetry == (queue.RetryPolicy{}) {
		cfg.CheckRetry = DefaultCheckRetry
	}
	if cfg.ReadRetry <= 0 {
		cfg.ReadRetry = DefaultReadRetry
	}
	if cfg.UnreachableAfter <= 0 {
		cfg.UnreachableAfter = DefaultUnreachableAfter
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Engine{
		cfg: cfg, log: log.With("component", cfg.Owner),
		wake: make(chan struct{}, 1), done: make(chan job, 2*cfg.Workers),
		authors: map[string]*author{}, checking: map[uint64]bool{}, deferred: map[uint64]*checkRetry{},
	}, nil
}

// OnChange tells the engine that records changed; it has the signature of
// queue.Options.OnChange and never blocks. Only records arriving in received or ready can
// give the engine work.
func (e *Engine) OnChange(changes []queue.Change) {
	for _, c := range changes {
		if c.State == queue.Received || c.State == queue.Ready {
			e.signal()
			return
		}
	}
}

// Notify tells the engine that records may have changed, without saying how (a change
// notification that carries no states). It never blocks.
func (e *Engine) Notify() { e.signal() }

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run files until ctx ends, then waits for the checks and filings in progress (a filing is
// interrupted and released, its outcome unknown) and returns nil. It returns an error if the
// queue fails.
func (e *Engine) Run(ctx context.Context) error {
	var jobs running
	defer jobs.wg.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, err := e.pass(ctx, &jobs)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case j := <-e.done:
			if j == checkJob {
				jobs.checks--
			} else {
				jobs.filings--
			}
		case <-timer.C:
		}
	}
}

// start runs a job in its own goroutine.
func (e *Engine) start(jobs *running, j job, fn func()) {
	if j == checkJob {
		jobs.checks++
	} else {
		jobs.filings++
	}
	jobs.wg.Add(1)
	go func() {
		defer jobs.wg.Done()
		fn()
		e.done <- j
	}()
}

// pass does what can be done now and returns when to look again (zero: when woken).
func (e *Engine) pass(ctx context.Context, jobs *running) (time.Time, error) {
	e.probeDue(ctx)
	e.forgetWanted()
	checkNext, err := e.checkReceived(ctx, jobs)
	if err != nil {
		return time.Time{}, err
	}
	next, err := e.claim(ctx, jobs)
	if err != nil {
		return time.Time{}, err
	}
	next = earliest(next, checkNext)
	if held := e.heldUntil(); !held.IsZero() {
		next = earliest(next, held)
	}
	if e.probesWaiting() {
		e.signal()
	}
	next = earliest(next, e.nextProbe())
	e.log.Debug("pass done", "checks", jobs.checks, "filings", jobs.filings, "next", next)
	return next, nil
}

// claim leases ready records of healthy authors while filing workers are free, and files
// each. It returns when the earliest record in back-off falls due.
func (e *Engine) claim(ctx context.Context, jobs *running) (time.Time, error) {
	for jobs.filings < e.cfg.Workers {
		c, err := e.cfg.Queue.Claim(ctx, queue.ClaimRequest{Owner: e.cfg.Owner, Lease: e.cfg.Lease, Eligible: e.eligible})
		var none *queue.NothingReadyError
		if errors.As(err, &none) {
			return none.NextDue, nil
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("filer: claim: %w", err)
		}
		e.start(jobs, fileJob, func() { e.file(ctx, c) })
	}
	return time.Time{}, nil
}

// earliest returns the earlier of two times, a zero time meaning "never".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
