// Package probe runs the service's on-demand integration probes (POST /probe, wbagent
// doctor): each part of the service that watches a link registers how to check it now, and
// a Registry runs them all at once, bounded in time. Callers that ask while a run is in
// progress share it, and a new run starts no sooner than MinGap after the last one ended,
// so that a burst of requests cannot hammer the clinical system or the platform; a caller
// is never given a run that ended before it asked.
package probe

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// CodeTimeout is the code of a check that did not answer within the probe's bound.
// Serialised: never change it.
const CodeTimeout = "timeout"

// Check is one fresh check. It never names a patient.
type Check struct {
	// Subject is what was checked: "platform", or "clinician:" and a clinical user id.
	Subject string
	Title   string // a one-line description for people
	OK      bool
	Code    string // the condition code a failure raises
	Detail  string // one line, for people
}

// Func checks now and returns what it found. It must return soon after ctx ends.
type Func func(ctx context.Context) []Check

// Result is a run of every registered probe.
type Result struct {
	Checks []Check
	// Incomplete is set when a probe had not answered when the bound ended; it is listed
	// as a check with Code CodeTimeout.
	Incomplete bool
	Finished   time.Time
}

// Defaults for a Registry.
const (
	DefaultTimeout = 30 * time.Second
	// DefaultMinGap is the least time between the end of a run and the start of the next.
	DefaultMinGap = time.Second
)

// grace is how long a probe may take past its bound to return its checks.
const grace = 2 * time.Second

// Registry holds the probes. Its zero value is not usable: call New.
type Registry struct {
	Timeout time.Duration
	MinGap  time.Duration

	mu     sync.Mutex
	probes []named
	run    *run // in progress, or the last one
}

type named struct {
	name  string
	title string
	fn    Func
}

type run struct {
	done chan struct{}
	res  Result
}

// New returns a registry with the default bounds.
func New() *Registry { return &Registry{Timeout: DefaultTimeout, MinGap: DefaultMinGap} }

// Register adds a probe; name is the Subject of the timeout check if it does not answer in
// time, title its Title.
func (r *Registry) Register(name, title string, fn Func) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes = append(r.probes, named{name, title, fn})
}

// Run runs every probe at once and returns their checks, in subject order. A caller that
// asks while a run is in progress (or waiting for MinGap) gets that run's result. ctx
// bounds the caller's wait, not the run (which Timeout bounds).
func (r *Registry) Run(ctx context.Context) (Result, error) {
	r.mu.Lock()
	cur := r.run
	if cur == nil || isDone(cur) {
		var wait time.Duration
		if cur != nil {
			wait = r.MinGap - time.Since(cur.res.Finished)
		}
		cur = &run{done: make(chan struct{})}
		r.run = cur
		probes := slices.Clone(r.probes)
		go func() {
			if wait > 0 {
				time.Sleep(wait)
			}
			r.do(cur, probes)
		}()
	}
	r.mu.Unlock()
	select {
	case <-cur.done:
		return cur.res, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func isDone(r *run) bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

func (r *Registry) do(cur *run, probes []named) {
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout)
	defer cancel()
	answers := make([][]Check, len(probes))
	answered := make([]bool, len(probes))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, p := range probes {
		wg.Go(func() {
			c := p.fn(ctx)
			mu.Lock()
			answers[i], answered[i] = c, c != nil || ctx.Err() == nil
			mu.Unlock()
		})
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	bound := time.NewTimer(r.Timeout + grace)
	defer bound.Stop()
	select {
	case <-all:
	case <-bound.C:
	}
	mu.Lock()
	var res Result
	for i, p := range probes {
		if !answered[i] {
			res.Incomplete = true
			res.Checks = append(res.Checks, Check{Subject: p.name, Title: p.title, Code: CodeTimeout,
				Detail: "no answer within " + r.Timeout.String()})
			continue
		}
		res.Checks = append(res.Checks, answers[i]...)
	}
	mu.Unlock()
	for _, c := range res.Checks {
		if c.Code == CodeTimeout {
			res.Incomplete = true
		}
	}
	slices.SortStableFunc(res.Checks, func(a, b Check) int { return strings.Compare(a.Subject, b.Subject) })
	res.Finished = time.Now()
	cur.res = res
	close(cur.done)
}
