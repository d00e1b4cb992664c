package queue

import (
	"sync/atomic"
	"testing"
	"time"
)

// Leases and back-off are measured on the monotonic clock: a jump of the wall clock,
// forward or back, neither takes a filing from the filer that holds it nor holds a retry
// back.
func TestLeasesAndBackOffSurviveAWallClockJump(t *testing.T) {
	var offset atomic.Int64
	wall := func() time.Time { return time.Now().Add(time.Duration(offset.Load())).Round(0) } // no monotonic reading
	f := newFixture(t, func(o *Options) {
		o.Now, o.mono = wall, time.Now
		o.Retry = RetryPolicy{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2, MaxAttempts: 5}
	})
	all := func(string) bool { return true }

	// Forward: a lease of a minute is not expired by a jump of two hours.
	id := f.to(Ready)
	c, err := f.q.Claim(ctx, ClaimRequest{Owner: "filer", Lease: time.Minute, Eligible: all})
	if err != nil || c.ID != id {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	offset.Store(int64(2 * time.Hour))
	if err := f.q.RecoverExpiredLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.q.Get(id); r.State != Filing {
		t.Fatalf("a jump forward took the filing: %s", r.State)
	}
	if _, err := f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "g"}); err != nil {
		t.Fatalf("the filer lost its lease to a jump forward: %v", err)
	}

	// Back: a back-off of 50 ms is not made two hours longer.
	id = f.to(Ready)
	c, err = f.q.Claim(ctx, ClaimRequest{Owner: "filer", Lease: time.Minute, Eligible: all})
	if err != nil || c.ID != id {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	if _, err := f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: RetryLater, Code: "timeout"}); err != nil {
		t.Fatal(err)
	}
	offset.Store(0)
	time.Sleep(150 * time.Millisecond)
	c, err = f.q.Claim(ctx, ClaimRequest{Owner: "filer", Lease: 50 * time.Millisecond, Eligible: all})
	if err != nil || c.ID != id {
		t.Fatalf("a jump back held the retry: %+v, %v", c, err)
	}

	// Back: a lease of 50 ms, left by a filer that hung, still expires.
	offset.Store(int64(-2 * time.Hour))
	time.Sleep(150 * time.Millisecond)
	if err := f.q.RecoverExpiredLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.q.Get(id); r.State != Ready || !r.OutcomeUnknown {
		t.Fatalf("a jump back kept an expired lease: %s, outcome unknown %v", r.State, r.OutcomeUnknown)
	}
}
