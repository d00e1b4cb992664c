package filer_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// A passing failure while checking holds that record for a short back-off only: the
// author's other records are checked and filed meanwhile, and the author is never paused.
func TestPassingCheckFailureHoldsOnlyThatRecord(t *testing.T) {
	sys := newFakeSystem()
	fails := kindErr("GetMatchedPatients", clinical.ErrTransient, "", 500)
	sys.find = []error{fails, fails, fails} // the read and its retries
	var changes atomic.Int32
	f := newFixture(t, sys, options{config: func(c *filer.Config) {
		c.Workers = 1
		c.CheckRetry = queue.RetryPolicy{Initial: 300 * time.Millisecond, Max: time.Second, Multiplier: 2}
		c.OnHealth = func() { changes.Add(1) }
	}})
	first := f.enqueue(doc("job-1", "10001"))
	f.waitHealth("10001", filer.Healthy)
	second := f.enqueue(doc("job-2", "10001"))
	f.confirm(second, false)
	f.waitState(second, queue.Filed) // while the first record's check backs off
	if r, _ := f.q.Get(first); r.State != queue.Received {
		t.Errorf("first record %s before its back-off ended", r.State)
	}
	f.waitState(first, queue.NeedsConfirmation)
	if h := f.health("10001"); h.Health != filer.Healthy {
		t.Errorf("author %+v after one passing failure: want healthy", h)
	}
	if n := changes.Load(); n != 1 { // unknown → healthy only
		t.Errorf("OnHealth called %d times, want 1", n)
	}
}

// Calls that go unanswered several times in a row pause the author as unreachable (so
// staff are told), and a probe that passes resumes them.
func TestUnansweredCallsPauseTheAuthorUntilAProbePasses(t *testing.T) {
	sys := newFakeSystem()
	down := kindErr("GetMatchedPatients", clinical.ErrTransient, "", 0)
	var changes atomic.Int32
	f := newFixture(t, sys, options{config: func(c *filer.Config) {
		c.Workers = 1
		c.Reprobe = queue.RetryPolicy{Initial: 200 * time.Millisecond, Max: time.Second, Multiplier: 2}
		c.OnHealth = func() { changes.Add(1) }
	}})
	sys.mu.Lock()
	sys.find = nil
	sys.mu.Unlock()
	f.enqueue(doc("job-0", "10001"))
	f.waitHealth("10001", filer.Healthy)
	sys.mu.Lock()
	for range 4 * 3 { // four checks, each a read and its retries
		sys.find = append(sys.find, down)
	}
	sys.probe["10001"] = down // the probe after the pause fails too …
	sys.mu.Unlock()
	id := f.enqueue(doc("job-1", "10001"))
	h := f.waitHealth("10001", filer.Paused)
	if h.Err == nil || h.Err.Kind != clinical.ErrTransient {
		t.Errorf("paused %+v, want a transient cause", h)
	}
	if n := changes.Load(); n < 2 {
		t.Errorf("OnHealth called %d times, want the pause told", n)
	}
	sys.setProbe("10001", nil) // … until the clinical system answers again
	f.waitState(id, queue.NeedsConfirmation)
	if h := f.health("10001"); h.Health != filer.Healthy {
		t.Errorf("after the probe passed: %+v", h)
	}
	if sys.count("FindPatients") != 14 {
		t.Errorf("%d patient searches, want 1 passed, 4×3 failed and 1 passed", sys.count("FindPatients"))
	}
}

// A server that answers 429 with Retry-After is not called again before then.
func TestRetryAfterIsHonoured(t *testing.T) {
	sys := newFakeSystem()
	busy := &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient, Status: 429, RetryAfter: 400 * time.Millisecond}
	sys.file = []fileResult{{err: busy}}
	f := newFixture(t, sys, options{})
	id := f.enqueue(doc("job-1", "10001"))
	f.waitState(id, queue.NeedsConfirmation)
	start := time.Now()
	f.confirm(id, false)
	r := f.waitState(id, queue.Filed)
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("filed %v after a 429 asking for 400 ms", d)
	}
	if outcomes(r) != "retry,filed" {
		t.Errorf("attempts %s", outcomes(r))
	}
	if h := f.health("10001"); h.Health != filer.Healthy {
		t.Errorf("author %+v after a 429: want healthy", h)
	}
}

// A read that fails once for a passing reason is tried again within the same check: the
// record is not held back at all.
func TestAReadIsTriedAgainAtOnce(t *testing.T) {
	sys := newFakeSystem()
	sys.find = []error{kindErr("GetMatchedPatients", clinical.ErrTransient, "", 500)}
	f := newFixture(t, sys, options{config: func(c *filer.Config) {
		c.CheckRetry = queue.RetryPolicy{Initial: time.Hour, Max: time.Hour, Multiplier: 2}
	}})
	id := f.enqueue(doc("job-1", "10001"))
	f.waitState(id, queue.NeedsConfirmation)
	if sys.count("FindPatients") != 2 {
		t.Errorf("%d patient searches, want the failed one and its retry", sys.count("FindPatients"))
	}
}

// A probe that fails for a passing reason proves nothing: the author is not paused, and is
// probed again shortly.
func TestAProbeFailingForNowDoesNotPause(t *testing.T) {
	sys := newFakeSystem()
	sys.setProbe("10001", &clinical.Error{Op: "GetUserById", Kind: clinical.ErrTransient, Status: 429})
	f := newFixture(t, sys, options{config: func(c *filer.Config) {
		c.CheckRetry = queue.RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2}
	}})
	id := f.enqueue(doc("job-1", "10001"))
	f.wait(5*time.Second, "a probe", func() bool { return sys.count("Probe") >= 1 })
	if h := f.health("10001"); h.Health == filer.Paused {
		t.Errorf("paused after one probe failing for now: %+v", h)
	}
	sys.setProbe("10001", nil)
	f.waitState(id, queue.NeedsConfirmation)
}
