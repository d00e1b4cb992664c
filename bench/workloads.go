package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Workload names; they are also the table columns and (with _per_s) the JSON keys.
const (
	wlEnqueue1 = "enqueue_1"         // 1 producer, Enqueue in a loop
	wlEnqueueN = "enqueue_64"        // -producers producers (64), Enqueue in a loop each
	wlCycle    = "cycle"             // -producers goroutines, each Enqueue→Claim→Done in a loop
	wlBacklog  = "enqueue_1_backlog" // enqueue_1 after -backlog records were queued and drained
)

// allWorkloads lists the workloads in the order they run.
var allWorkloads = []string{wlEnqueue1, wlEnqueueN, wlCycle, wlBacklog}

// workloadCfg is what every workload run needs.
type workloadCfg struct {
	producers int
	duration  time.Duration // measured part
	warmup    time.Duration // run, not measured, before it
	backlog   int           // records queued then drained before enqueue_1_backlog
	fillCap   time.Duration // if > 0, stop queuing the backlog after this long (-quick)
	gen       *payloadGen
	claimWait time.Duration // how long Claim may find nothing although items are pending
	logf      func(format string, args ...any)
}

// rate is a count of completed operations over a time.
type rate struct {
	ops     int64
	elapsed time.Duration
}

func (r rate) perSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// timed runs op in a loop in n goroutines; after warmup it counts the operations that
// complete during d. Stragglers finish their current operation before it returns. The
// first error stops everything and is returned.
func timed(ctx context.Context, n int, warmup, d time.Duration, op func(ctx context.Context) error) (rate, error) {
	var (
		count    atomic.Int64
		stop     atomic.Bool
		once     sync.Once
		firstErr error
		failed   = make(chan struct{})
		wg       sync.WaitGroup
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := op(ctx); err != nil {
					once.Do(func() { firstErr = err; close(failed) })
					stop.Store(true)
					return
				}
				count.Add(1)
			}
		}()
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-failed:
		case <-ctx.Done():
		}
		return false
	}
	var r rate
	if wait(warmup) {
		c0, t0 := count.Load(), time.Now()
		if wait(d) {
			r = rate{ops: count.Load() - c0, elapsed: time.Since(t0)}
		}
	}
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return r, firstErr
	}
	return r, ctx.Err()
}

// runWorkload opens the store in dir (fresh, empty) and runs one workload on it.
// desc is the store's Name(); info is an extra line for the report (may be empty).
func runWorkload(ctx context.Context, f Factory, dir, wl string, cfg workloadCfg) (r rate, desc, info string, err error) {
	s, err := f(dir)
	if err != nil {
		return rate{}, "", "", fmt.Errorf("open: %w", err)
	}
	desc = s.Name()
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	enqueue := func(ctx context.Context) error {
		id, p := cfg.gen.next()
		return s.Enqueue(ctx, id, p)
	}
	switch wl {
	case wlEnqueue1:
		r, err = timed(ctx, 1, cfg.warmup, cfg.duration, enqueue)
	case wlEnqueueN:
		r, err = timed(ctx, cfg.producers, cfg.warmup, cfg.duration, enqueue)
	case wlCycle:
		c := newChecker(s, cfg)
		r, err = timed(ctx, cfg.producers, cfg.warmup, cfg.duration, c.cycle)
		if err == nil {
			err = c.finish(ctx)
		}
	case wlBacklog:
		var fill, drain rate
		fill, drain, err = buildBacklog(ctx, s, cfg)
		if err != nil {
			return rate{}, desc, "", fmt.Errorf("building backlog of %d: %w", cfg.backlog, err)
		}
		if fill.ops > 0 {
			capped := ""
			if fill.ops < int64(cfg.backlog) {
				capped = fmt.Sprintf(" (of %d asked: QUICK stops queuing after %v)", cfg.backlog, cfg.fillCap)
			}
			info = fmt.Sprintf("backlog %d records%s: queued by %d producers at %s/s, drained (claim+done) at %s/s",
				fill.ops, capped, cfg.producers, fmtRate(fill.perSec()), fmtRate(drain.perSec()))
		} else {
			info = fmt.Sprintf("backlog %d records: built by the store's BuildBacklog in %v",
				cfg.backlog, drain.elapsed.Round(time.Millisecond))
		}
		r, err = timed(ctx, 1, cfg.warmup, cfg.duration, enqueue)
	default:
		err = fmt.Errorf("unknown workload %q", wl)
	}
	if err != nil {
		err = fmt.Errorf("%s: %w", wl, err)
	}
	return r, desc, info, err
}

// checker verifies that what Claim returns is what was enqueued, exactly once.
type checker struct {
	s           Store
	cfg         workloadCfg
	size        int
	outstanding sync.Map // job id -> struct{}: enqueued (or being enqueued), not yet claimed
}

func newChecker(s Store, cfg workloadCfg) *checker {
	return &checker{s: s, cfg: cfg, size: cfg.gen.Size()}
}

var errNothingPending = errors.New("Claim found nothing pending although enqueued items were not claimed yet")

// claim claims one item, retrying while the store reports nothing pending (for at most
// claimWait), and checks the payload.
func (c *checker) claim(ctx context.Context) (string, error) {
	deadline := time.Now().Add(c.cfg.claimWait)
	backoff := 20 * time.Microsecond
	for {
		id, payload, ok, err := c.s.Claim(ctx)
		if err != nil {
			return "", fmt.Errorf("claim: %w", err)
		}
		if ok {
			return id, c.check(payload)
		}
		if time.Now().After(deadline) {
			return "", errNothingPending
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Millisecond)
	}
}

func (c *checker) check(payload []byte) error {
	job, ok := jobIDOf(payload)
	if !ok || len(payload) != c.size {
		return fmt.Errorf("claim returned a payload that was not enqueued (%d bytes, want %d)", len(payload), c.size)
	}
	if _, ok := c.outstanding.LoadAndDelete(job); !ok {
		return fmt.Errorf("claim returned job %s twice (or one never enqueued)", job)
	}
	return nil
}

// cycle is one Enqueue→Claim→Done; the item claimed is the oldest pending one, usually
// another goroutine's.
func (c *checker) cycle(ctx context.Context) error {
	job, p := c.cfg.gen.next()
	c.outstanding.Store(job, struct{}{})
	if err := c.s.Enqueue(ctx, job, p); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	id, err := c.claim(ctx)
	if err != nil {
		return err
	}
	if err := c.s.Done(ctx, id); err != nil {
		return fmt.Errorf("done: %w", err)
	}
	return nil
}

// finish checks that every enqueued item was claimed and nothing is left pending.
func (c *checker) finish(ctx context.Context) error {
	left := 0
	c.outstanding.Range(func(any, any) bool { left++; return true })
	if left != 0 {
		return fmt.Errorf("%d enqueued items were never claimed", left)
	}
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, _, ok, err := c.s.Claim(ctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("final claim: %w", err)
	}
	if ok {
		return errors.New("the queue still had an item pending after every item was claimed")
	}
	return nil
}

// buildBacklog queues cfg.backlog records with cfg.producers goroutines, then drains them
// (Claim+Done) with as many, unless the store implements BacklogBuilder.
func buildBacklog(ctx context.Context, s Store, cfg workloadCfg) (fill, drain rate, err error) {
	if bb, ok := s.(BacklogBuilder); ok {
		t0 := time.Now()
		err := bb.BuildBacklog(ctx, cfg.backlog, cfg.producers, cfg.gen.next)
		return rate{}, rate{ops: int64(cfg.backlog), elapsed: time.Since(t0)}, err
	}
	c := newChecker(s, cfg)
	// parallel runs op n times in cfg.producers goroutines; with a non-zero deadline it
	// stops starting new ops after it. It returns how many completed.
	parallel := func(n int64, deadline time.Time, op func(ctx context.Context) error) (rate, error) {
		var (
			next     atomic.Int64
			done     atomic.Int64
			wg       sync.WaitGroup
			mu       sync.Mutex
			firstErr error
		)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		t0 := time.Now()
		for i := 0; i < cfg.producers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= n {
					if !deadline.IsZero() && time.Now().After(deadline) {
						return
					}
					err := op(ctx)
					if err == nil {
						done.Add(1)
						continue
					}
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}()
		}
		wg.Wait()
		return rate{ops: done.Load(), elapsed: time.Since(t0)}, firstErr
	}
	var deadline time.Time
	if cfg.fillCap > 0 {
		deadline = time.Now().Add(cfg.fillCap)
	}
	fill, err = parallel(int64(cfg.backlog), deadline, func(ctx context.Context) error {
		job, p := cfg.gen.next()
		c.outstanding.Store(job, struct{}{})
		return s.Enqueue(ctx, job, p)
	})
	if err != nil {
		return fill, rate{}, fmt.Errorf("fill: %w", err)
	}
	if cfg.logf != nil {
		cfg.logf("    backlog queued: %d records at %s/s", fill.ops, fmtRate(fill.perSec()))
	}
	drain, err = parallel(fill.ops, time.Time{}, func(ctx context.Context) error {
		id, err := c.claim(ctx)
		if err != nil {
			return err
		}
		return s.Done(ctx, id)
	})
	if err != nil {
		return fill, drain, fmt.Errorf("drain: %w", err)
	}
	return fill, drain, c.finish(ctx)
}
