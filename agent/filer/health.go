package filer

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// Health is the engine's view of an author's integration.
type Health string

// The values are shown to staff and in the local API: never change them.
const (
	Unknown Health = "unknown" // not probed yet
	Healthy Health = "healthy" // their records are checked and filed
	Paused  Health = "paused"  // their records wait until the cause is put right
)

// AuthorHealth is one author's state, as Authors reports it.
type AuthorHealth struct {
	Author string // the clinical user id
	Health Health
	// Err says why the author is paused (nil otherwise). Its Kind and Cause name the
	// condition; it carries no patient data.
	Err *clinical.Error
	// Since is when the author entered this health (or this cause of pause).
	Since time.Time
	// NextProbe is when a paused author is probed again; zero when the engine waits for
	// Recheck (the clinician must link again).
	NextProbe time.Time
}

// author is what the engine knows of an author; guarded by Engine.mu.
type author struct {
	health  Health
	err     *clinical.Error
	since   time.Time
	pauses  int // pauses in a row: the re-probe back-off
	next    time.Time
	recheck bool // probe at the next pass, whatever the state
	wanted  bool // has records waiting, as seen by the current pass
	// unanswered counts the author's calls in a row that got no answer from the clinical
	// system; Config.UnreachableAfter of them pause the author. failing counts their
	// checks and attempts in a row that failed for a passing reason, answered or not;
	// FailingAfter of them pause the author too (a system that answers every call with an
	// error is as good as unreachable).
	unanswered, failing int
	// probeFailures counts probes in a row that failed for a passing reason: their back-off.
	probeFailures int
}

// FailingAfter is how many checks and attempts of an author in a row must fail for a
// passing reason before the author is paused as unreachable.
const FailingAfter = 8

// Authors returns a snapshot of every author the engine has met, in id order. The
// integration watcher turns paused authors into conditions shown to staff.
func (e *Engine) Authors() []AuthorHealth {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]AuthorHealth, 0, len(e.authors))
	for name, a := range e.authors {
		h := AuthorHealth{Author: name, Health: a.health, Since: a.since, NextProbe: a.next}
		if a.err != nil {
			c := *a.err
			h.Err = &c
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b AuthorHealth) int { return strings.Compare(a.Author, b.Author) })
	return out
}

// Recheck asks for the author to be probed now: call it when their link or access may have
// been put right (a new link, a change in EMAS Manager). Their re-probe back-off restarts.
func (e *Engine) Recheck(name string) {
	e.mu.Lock()
	a := e.author(name)
	a.recheck, a.pauses = true, 0
	e.mu.Unlock()
	e.signal()
}

// RecheckPaused asks for every paused author to be probed now: call it when links change
// without saying whose.
func (e *Engine) RecheckPaused() {
	e.mu.Lock()
	for _, a := range e.authors {
		if a.health == Paused {
			a.recheck, a.pauses = true, 0
		}
	}
	e.mu.Unlock()
	e.signal()
}

// author returns the entry of an author, creating it; e.mu must be held.
func (e *Engine) author(name string) *author {
	a, ok := e.authors[name]
	if !ok {
		a = &author{health: Unknown, since: time.Now()}
		e.authors[name] = a
	}
	return a
}

// eligible reports whether an author's records may be worked on now, and notes an author
// who is not as having records waiting. It is the queue's Claim filter, so it must be quick.
func (e *Engine) eligible(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.author(name)
	if a.health == Healthy {
		return !time.Now().Before(e.holdUntil)
	}
	a.wanted = true
	return false
}

// forgetWanted starts a pass: which authors have records waiting is seen afresh.
func (e *Engine) forgetWanted() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.authors {
		a.wanted = false
	}
}

// due returns the authors to probe at now.
func (e *Engine) due(now time.Time) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var names []string
	for name, a := range e.authors {
		if a.recheck || (a.wanted && a.probeDue(now)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// probeDue reports whether the author's probe is due at now (records waiting aside): a new
// author's at once unless a passing failure put it off, a paused one's at its time.
func (a *author) probeDue(now time.Time) bool {
	switch a.health {
	case Unknown:
		return !now.Before(a.next)
	case Paused:
		return !a.next.IsZero() && !now.Before(a.next)
	}
	return false
}

// probesWaiting reports whether an author seen in this pass waits for a probe due now.
func (e *Engine) probesWaiting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	for _, a := range e.authors {
		if a.recheck || (a.wanted && a.health == Unknown && a.probeDue(now)) {
			return true
		}
	}
	return false
}

// nextProbe returns when the earliest author with records waiting is due a probe.
func (e *Engine) nextProbe() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var next time.Time
	for _, a := range e.authors {
		if a.wanted && a.health != Healthy && !a.next.IsZero() {
			next = earliest(next, a.next)
		}
	}
	return next
}

// probeDue probes the authors due a probe, one after the other.
func (e *Engine) probeDue(ctx context.Context) {
	for _, name := range e.due(time.Now()) {
		if ctx.Err() != nil {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := e.cfg.System.Probe(pctx, name)
		cancel()
		if ctx.Err() != nil {
			return
		}
		e.mu.Lock()
		e.author(name).recheck = false
		e.mu.Unlock()
		if err != nil {
			ce := asClinical("Probe", err)
			if action(ce.Kind) == retry {
				e.probeFailedForNow(name, ce)
				continue
			}
			e.pause(name, ce)
			continue
		}
		e.healthy(name)
	}
}

// probeFailedForNow notes a probe that failed for a passing reason: it proves nothing of the
// author's integration, so their health (or the cause of their pause) stands, and the probe
// is tried again after a short back-off, unless the clinical system has stopped answering
// (passingFailure pauses the author then).
func (e *Engine) probeFailedForNow(name string, ce *clinical.Error) {
	e.passingFailure(name, ce)
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.author(name)
	a.probeFailures++
	next := time.Now().Add(e.cfg.CheckRetry.Delay(a.probeFailures, rand.Float64()))
	if a.health != Paused || a.next.IsZero() || next.Before(a.next) {
		a.next = next
	}
}

func (e *Engine) healthy(name string) {
	if e.setHealthy(name) {
		e.healthChanged()
	}
}

// setHealthy marks an author healthy and reports whether their health changed.
func (e *Engine) setHealthy(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.author(name)
	if a.err == nil || !errors.Is(a.err, clinical.ErrInsufficientRole) {
		// The back-off restarts, except for a role that cannot file: only filing shows it,
		// so a probe that passes proves nothing and the back-off keeps growing until a
		// filing succeeds.
		a.pauses = 0
	}
	a.unanswered, a.failing, a.probeFailures = 0, 0, 0
	if a.health != Healthy {
		a.health, a.err, a.since, a.next = Healthy, nil, time.Now(), time.Time{}
		e.log.Info("author healthy: filing", "author", name)
		return true
	}
	return false
}

// healthChanged tells Config.OnHealth; the engine's lock is not held.
func (e *Engine) healthChanged() {
	if e.cfg.OnHealth != nil {
		e.cfg.OnHealth()
	}
}

// answered notes that a check or attempt for the author succeeded.
func (e *Engine) answered(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.author(name)
	a.unanswered, a.failing = 0, 0
}

// passingFailure notes a failure that retrying may mend: the clinical system's request to
// wait (Retry-After) holds every call until then, and calls going unanswered
// Config.UnreachableAfter times in a row pause the author as unreachable.
func (e *Engine) passingFailure(name string, ce *clinical.Error) {
	if ce.RetryAfter > 0 {
		e.mu.Lock()
		if until := time.Now().Add(min(ce.RetryAfter, maxRetryAfter)); until.After(e.holdUntil) {
			e.holdUntil = until
			e.log.Info("the clinical system asked the agent to wait", "seconds", ce.RetryAfter.Seconds())
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	a := e.author(name)
	a.failing++
	if unanswered(ce) {
		a.unanswered++
	} else {
		a.unanswered = 0
	}
	stop := a.unanswered >= e.cfg.UnreachableAfter || a.failing >= FailingAfter
	e.mu.Unlock()
	if stop {
		e.pause(name, ce)
	}
}

// maxRetryAfter bounds how long a Retry-After can hold filing.
const maxRetryAfter = 10 * time.Minute

// unanswered reports whether a passing failure means the clinical system could not be
// reached: no answer at all, or a gateway's or an overloaded server's.
func unanswered(ce *clinical.Error) bool {
	switch ce.Status {
	case 0:
		return ce.Cause != clinical.CauseAttachmentUnreadable
	case 502, 503, 504:
		return true
	}
	return false
}

// heldUntil returns when the clinical system's request to wait ends (zero: none holds).
func (e *Engine) heldUntil() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Now().Before(e.holdUntil) {
		return e.holdUntil
	}
	return time.Time{}
}

// filed notes that an author's filing succeeded: their integration works end to end, and
// the back-off restarts.
func (e *Engine) filed(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.author(name)
	a.pauses, a.unanswered, a.failing = 0, 0, 0
}

// pause holds an author's records until a probe succeeds. A clinician who must link again is
// probed only on Recheck; any other cause is probed again with back-off.
func (e *Engine) pause(name string, err *clinical.Error) {
	if e.setPaused(name, err) {
		e.healthChanged()
	}
}

// setPaused pauses an author and reports whether their health or its cause changed.
func (e *Engine) setPaused(name string, err *clinical.Error) (changed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.author(name)
	now := time.Now()
	if a.health != Paused || a.err == nil || a.err.Code() != err.Code() {
		a.since = now
		e.log.Warn("author paused: filing held", "author", name, "code", err.Code(), "detail", err.Detail())
		changed = true
	}
	a.unanswered, a.failing = 0, 0
	a.health, a.err = Paused, err
	a.pauses++
	a.next = time.Time{}
	if !errors.Is(err, clinical.ErrNotLinked) && !errors.Is(err, clinical.ErrRelinkNeeded) {
		a.next = now.Add(e.cfg.Reprobe.Delay(a.pauses, rand.Float64()))
	}
	return changed
}

// asClinical returns err as a *clinical.Error; any other error is a passing failure of op.
func asClinical(op string, err error) *clinical.Error {
	var ce *clinical.Error
	if errors.As(err, &ce) {
		return ce
	}
	if k := clinical.KindOf(err); k != "" {
		return &clinical.Error{Op: op, Kind: k}
	}
	return &clinical.Error{Op: op, Kind: clinical.ErrTransient, Err: err}
}

// readRetries is how many more times a read (a patient search, a consultation look-up) that
// failed for a passing reason is tried at once, within the same check or attempt, before
// the failure counts: a read changes nothing, so repeating it is always safe.
const readRetries = 2

// readRetryDelay is the wait before read retry n (0 first): between half and all of base,
// then of twice base.
func readRetryDelay(base time.Duration, n int) time.Duration {
	d := base << n
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// read runs a read of the clinical system, trying it again at once after a passing
// failure (at most readRetries times, and only when an asked-for Retry-After is short).
func read[T any](ctx context.Context, e *Engine, op string, fn func() (T, error)) (T, error) {
	for n := 0; ; n++ {
		v, err := fn()
		if err == nil || n == readRetries || ctx.Err() != nil {
			return v, err
		}
		ce := asClinical(op, err)
		if ce.Kind != clinical.ErrTransient {
			return v, err
		}
		d := readRetryDelay(e.cfg.ReadRetry, n)
		if ce.RetryAfter > 0 {
			if ce.RetryAfter > 2*time.Second {
				return v, err // a longer wait holds the engine (passingFailure)
			}
			d = max(d, ce.RetryAfter)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
	}
}
