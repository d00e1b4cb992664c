package queue

import (
	"errors"
	"maps"
	"sync"
	"testing"
	"time"
)

// Each operation, tried from every state: it must succeed exactly where the transition
// table allows it and leave the record untouched everywhere else.
func TestEveryOperationFromEveryState(t *testing.T) {
	type operation struct {
		name string
		from []State // where it is legal
		to   State
		run  func(f *fixture, id uint64) error
	}
	ops := []operation{
		{"mark checked", []State{Received}, NeedsConfirmation, func(f *fixture, id uint64) error {
			_, err := f.q.MarkChecked(ctx, id, system)
			return err
		}},
		{"needs attention", []State{Received, NeedsConfirmation, Ready}, NeedsAttention, func(f *fixture, id uint64) error {
			_, err := f.q.NeedsAttention(ctx, id, Reason{Code: "x", Fix: "y"}, system)
			return err
		}},
		{"confirm", []State{NeedsConfirmation}, Ready, func(f *fixture, id uint64) error {
			_, err := f.q.Confirm(ctx, id, ConfirmOptions{}, system)
			return err
		}},
		{"reject", []State{NeedsConfirmation, NeedsAttention}, Rejected, func(f *fixture, id uint64) error {
			_, err := f.q.Reject(ctx, id, "duplicate request", system)
			return err
		}},
		{"cancel", []State{Received, NeedsConfirmation, Ready, NeedsAttention}, Cancelled, func(f *fixture, id uint64) error {
			_, err := f.q.Cancel(ctx, id, "withdrawn", system)
			return err
		}},
		{"retry", []State{NeedsAttention, Ready}, "", func(f *fixture, id uint64) error {
			_, err := f.q.Retry(ctx, id, system)
			return err
		}},
	}
	for _, o := range ops {
		for _, from := range States {
			t.Run(o.name+" from "+string(from), func(t *testing.T) {
				f := newFixture(t)
				id := f.to(from)
				before, _ := f.q.Get(id)
				err := o.run(f, id)
				after, _ := f.q.Get(id)
				legalHere := false
				for _, s := range o.from {
					legalHere = legalHere || s == from
				}
				if !legalHere {
					if !errors.Is(err, ErrIllegalTransition) {
						t.Fatalf("err = %v, want ErrIllegalTransition", err)
					}
					if after.Version != before.Version || after.State != before.State {
						t.Fatalf("refused operation changed the record: %+v", after)
					}
					return
				}
				if err != nil {
					t.Fatalf("legal operation failed: %v", err)
				}
				want := o.to
				if want == "" { // retry
					want = map[State]State{NeedsAttention: Received, Ready: Ready}[from]
				}
				if after.State != want || after.Version != before.Version+1 {
					t.Fatalf("state %s v%d, want %s v%d", after.State, after.Version, want, before.Version+1)
				}
			})
		}
	}
}

func TestTransitionTableIsClosed(t *testing.T) {
	for from, tos := range legal {
		if !from.Valid() {
			t.Errorf("unknown state %q in table", from)
		}
		for _, to := range tos {
			if !to.Valid() {
				t.Errorf("%s → unknown state %q", from, to)
			}
		}
		if from.Terminal() && len(tos) > 0 {
			t.Errorf("terminal state %s has exits", from)
		}
	}
	if len(legal) != len(States) || len(stateCodes) != len(States) {
		t.Fatal("table, codes and States disagree")
	}
	seen := map[byte]bool{}
	for s, c := range stateCodes {
		if seen[c] || c == 0 {
			t.Errorf("state code %d of %s reused or zero", c, s)
		}
		seen[c] = true
	}
}

func TestFilingLifecycleAndLeases(t *testing.T) {
	f := newFixture(t)
	id := f.to(Ready)
	c, err := f.q.Claim(ctx, ClaimRequest{Owner: "filer", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.q.Claim(ctx, ClaimRequest{Owner: "filer"}); !errors.Is(err, ErrNothingReady) {
		t.Fatalf("second claim: %v, want ErrNothingReady", err)
	}
	stale := c.Ticket
	stale.Token++
	if _, err := f.q.MarkFiled(ctx, stale, FilingOutcome{}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("stale token: %v, want ErrLeaseLost", err)
	}
	r, err := f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "guid-1", ConsultationID: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != Filed || r.ConsultationGUID != "guid-1" || r.Lease != nil || len(r.Attempts) != 1 {
		t.Fatalf("after filing: %+v", r)
	}
	if _, err := f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("filing twice: %v, want ErrLeaseLost", err)
	}
	_ = id
}

func TestClaimRespectsEligibilityAndOrder(t *testing.T) {
	f := newFixture(t)
	a := f.to(Ready)
	b := f.to(Ready)
	none := func(string) bool { return false }
	if _, err := f.q.Claim(ctx, ClaimRequest{Owner: "x", Eligible: none}); !errors.Is(err, ErrNothingReady) {
		t.Fatalf("ineligible author claimed: %v", err)
	}
	c1, _ := f.q.Claim(ctx, ClaimRequest{Owner: "x"})
	c2, _ := f.q.Claim(ctx, ClaimRequest{Owner: "x"})
	if c1.ID != a || c2.ID != b {
		t.Fatalf("claimed %d, %d; want oldest first %d, %d", c1.ID, c2.ID, a, b)
	}
}

// Claims made at the same time are worked out in advance on different records, but the
// commit decides: every ready record is claimed once, oldest first in commit order, with its
// own lease, whether the advance work was used or done again.
func TestConcurrentClaimsTakeEachRecordOnce(t *testing.T) {
	f := newFixture(t)
	const n = 60
	want := map[uint64]bool{}
	for range n {
		want[f.to(Ready)] = true
	}
	var (
		mu     sync.Mutex
		got    = map[uint64]bool{}
		tokens = map[uint64]bool{}
		wg     sync.WaitGroup
	)
	for range n + 4 { // four more claims than records: they find nothing
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.q.Claim(ctx, ClaimRequest{Owner: "x", Lease: time.Minute})
			if errors.Is(err, ErrNothingReady) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if got[c.ID] || tokens[c.Token] {
				t.Errorf("record %d (token %d) claimed twice", c.ID, c.Token)
			}
			got[c.ID], tokens[c.Token] = true, true
			if c.Record.State != Filing || c.Record.Lease == nil || c.Record.Lease.Token != c.Token {
				t.Errorf("claim of %d: %+v", c.ID, c.Record)
			}
		}()
	}
	wg.Wait()
	if !maps.Equal(got, want) {
		t.Fatalf("claimed %d records, want each of %d once", len(got), len(want))
	}
	for id := range want {
		r, err := f.q.Get(id)
		if err != nil || r.State != Filing {
			t.Fatalf("record %d after the claims: %+v, %v", id, r, err)
		}
	}
	if len(f.q.claims.expected) != 0 {
		t.Fatalf("claim hints left behind: %v", f.q.claims.expected)
	}
	// Committed claims are in the audit trail once each.
	claimed := 0
	if err := f.q.Audit(0, 0, func(e AuditEntry) error {
		if e.Action == ActionClaimed {
			claimed++
		}
		return nil
	}); err != nil || claimed != n {
		t.Fatalf("%d claim audit entries (%v), want %d", claimed, err, n)
	}
}

func TestRetryBackoffThenAttention(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Retry = RetryPolicy{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, Jitter: 0, MaxAttempts: 4}
	})
	id := f.to(Ready)
	wantDelays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, d := range wantDelays {
		c, err := f.q.Claim(ctx, ClaimRequest{Owner: "x"})
		if err != nil {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		r, err := f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: RetryLater, Code: "clinical-unavailable", Detail: "HTTP 500"})
		if err != nil {
			t.Fatal(err)
		}
		if r.State != Ready || r.NextAttemptAt.Sub(f.clock.Now()) != d {
			t.Fatalf("attempt %d: %s, next in %v; want ready in %v", i+1, r.State, r.NextAttemptAt.Sub(f.clock.Now()), d)
		}
		_, err = f.q.Claim(ctx, ClaimRequest{Owner: "x"})
		var nr *NothingReadyError
		if !errors.As(err, &nr) || !nr.NextDue.Equal(r.NextAttemptAt) {
			t.Fatalf("claim during back-off: %v", err)
		}
		f.clock.Advance(d)
	}
	c, _ := f.q.Claim(ctx, ClaimRequest{Owner: "x"})
	r, err := f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: RetryLater, Code: "clinical-unavailable"})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != NeedsAttention || r.Reason.Code != "retries-exhausted" || len(r.Attempts) != 4 {
		t.Fatalf("after max attempts: %s %+v, %d attempts", r.State, r.Reason, len(r.Attempts))
	}
	// A clinician's retry starts over from the checks.
	if r, _ = f.q.Retry(ctx, id, system); r.State != Received || r.Reason != nil {
		t.Fatalf("retry: %+v", r)
	}
	// Already confirmed: passing the checks again goes straight to ready.
	if r, _ = f.q.MarkChecked(ctx, id, system); r.State != Ready {
		t.Fatalf("re-checked confirmed record went to %s", r.State)
	}
}

func TestReleaseAndAttentionDispositions(t *testing.T) {
	f := newFixture(t)
	f.to(Ready)
	c, _ := f.q.Claim(ctx, ClaimRequest{Owner: "x"})
	r, err := f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: Release, Code: "session-refresh-needed", OutcomeUnknown: true})
	if err != nil || r.State != Ready || !r.NextAttemptAt.IsZero() || !r.OutcomeUnknown {
		t.Fatalf("release: %+v, %v", r, err)
	}
	c, _ = f.q.Claim(ctx, ClaimRequest{Owner: "x"})
	r, err = f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: Attention, Code: "bad-request",
		Reason: &Reason{Code: "bad-request", Fix: "Report this to IT"}})
	if err != nil || r.State != NeedsAttention || r.Reason.Fix != "Report this to IT" {
		t.Fatalf("attention: %+v, %v", r, err)
	}
	if !r.OutcomeUnknown {
		t.Fatal("outcome-unknown flag lost")
	}
}

func TestRetryPolicyDelayIsCappedAndJittered(t *testing.T) {
	p := DefaultRetryPolicy
	for n := 1; n < 100; n++ {
		lo, hi := p.Delay(n, 0), p.Delay(n, 0.999)
		if lo > hi || hi > p.Max || lo < time.Duration(float64(min(p.Max, p.Initial<<min(n-1, 40)))*(1-p.Jitter))-time.Millisecond {
			t.Fatalf("retry %d: delay range [%v, %v]", n, lo, hi)
		}
	}
	if p.Delay(1, 0.5) == p.Delay(1, 0.1) {
		t.Fatal("no jitter")
	}
}

func TestConfirmRefusesAChangedRecord(t *testing.T) {
	f := newFixture(t)
	id := f.to(NeedsConfirmation)
	r, _ := f.q.Get(id)
	if _, err := f.q.Confirm(ctx, id, ConfirmOptions{Version: r.Version - 1}, system); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("stale confirm: %v", err)
	}
	got, err := f.q.Confirm(ctx, id, ConfirmOptions{Version: r.Version, PfsVisible: true}, Actor{OSUser: "apatel", ClinicalUser: "dr.patel"})
	if err != nil || !got.PfsVisible || got.ConfirmedBy.ClinicalUser != "dr.patel" {
		t.Fatalf("confirm: %+v, %v", got, err)
	}
}

func TestMarkReportedChangesNoState(t *testing.T) {
	f := newFixture(t)
	a := f.to(Filed)
	b := f.to(NeedsAttention)
	if err := f.q.MarkReported(ctx, []ReportMark{{a, "filed|"}, {b, "needs-attention|test"}}, Actor{Component: "source"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[uint64]string{a: "filed|", b: "needs-attention|test"} {
		r, _ := f.q.Get(id)
		if r.Reported != want {
			t.Fatalf("record %d reported %q, want %q", id, r.Reported, want)
		}
	}
	if r, _ := f.q.Get(a); r.State != Filed {
		t.Fatalf("state changed to %s", r.State)
	}
	f.reopen()
	if r, _ := f.q.Get(b); r.Reported != "needs-attention|test" || r.State != NeedsAttention {
		t.Fatalf("after restart: %+v", r)
	}
	if err := f.q.MarkReported(ctx, []ReportMark{{999, "x"}}, system); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown record: %v", err)
	}
}

// An operation refused in a group is answered as of its place in the order the operations
// were submitted: a claim that found nothing ready does not take a record released by an
// operation submitted after it (the filer, stopping, would take back what it just released).
func TestARefusedOperationKeepsItsPlaceInTheGroup(t *testing.T) {
	f := newFixture(t)
	f.to(Ready)
	c, err := f.q.Claim(ctx, ClaimRequest{Owner: "filer", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Hold the lead with an operation that waits, so that the claim and the release queue up
	// behind it, in that order, and are staged as one group.
	release := make(chan struct{})
	holding := make(chan struct{})
	go f.q.submit(ctx, &op{fn: func(*wtx, *delta) error {
		close(holding)
		<-release
		return nil
	}})
	<-holding
	waitQueued := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			f.q.wmu.Lock()
			got := len(f.q.waiting)
			f.q.wmu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d operations queued, want %d", got, n)
			}
		}
	}
	claimed := make(chan error, 1)
	go func() {
		_, err := f.q.Claim(ctx, ClaimRequest{Owner: "filer", Lease: time.Minute})
		claimed <- err
	}()
	waitQueued(2)
	released := make(chan error, 1)
	go func() {
		_, err := f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: Release, Code: "interrupted"})
		released <- err
	}()
	waitQueued(3)
	close(release)
	if err := <-claimed; !errors.Is(err, ErrNothingReady) {
		t.Errorf("claim queued before the release: %v, want ErrNothingReady", err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if r, err := f.q.Get(c.Ticket.ID); err != nil || r.State != Ready {
		t.Errorf("after the release: %v, %v; want ready", r, err)
	}
}
