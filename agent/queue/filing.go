package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// OutcomeUnknownFix is the plain-English note on a record whose filing was interrupted.
const OutcomeUnknownFix = "outcome unknown: check before re-filing"

// Ticket identifies a claimed record and the lease on it.
type Ticket struct {
	ID    uint64
	Token uint64
}

// Claim is a record leased to the filing engine.
type Claim struct {
	Ticket
	Record *Record
}

// ClaimRequest says who claims, for how long, and which authors' records it may take
// (nil: any author).
type ClaimRequest struct {
	Owner    string
	Lease    time.Duration
	Eligible func(author string) bool
}

// NothingReadyError is returned by Claim when no eligible record is due; NextDue is when
// the earliest one in back-off becomes due (zero if none waits).
type NothingReadyError struct{ NextDue time.Time }

func (e *NothingReadyError) Error() string {
	if e.NextDue.IsZero() {
		return "queue: claim: nothing ready to file"
	}
	return "queue: claim: nothing ready to file until " + e.NextDue.Format(time.RFC3339)
}

func (e *NothingReadyError) Is(target error) bool { return target == ErrNothingReady }

// Claim leases the oldest due ready record to the caller: it moves to filing until the lease
// expires. If the lease expires (the engine hung or crashed), the record goes back to ready
// flagged "outcome unknown".
//
// The claim is worked out, encoded and sealed before the commit, on the record the commit
// is expected to pick (the oldest due one not already expected by a claim in progress); the
// commit picks the record itself and uses that work only if it picked the same record, in
// the same version. Otherwise it does the work again.
func (q *Queue) Claim(ctx context.Context, req ClaimRequest) (*Claim, error) {
	if req.Lease <= 0 {
		req.Lease = 2 * time.Minute
	}
	pre := q.prepareClaim(req)
	if pre != nil {
		defer q.claims.release(pre.rec.ID)
	}
	var out *Claim
	o := &op{}
	o.fn = func(t *wtx, d *delta) error {
		now := q.now().UTC()
		id, next, ok := q.findDue(d, q.mono(), req.Eligible, nil)
		if !ok {
			return &NothingReadyError{NextDue: next}
		}
		c := pre
		if cur, ok := q.cached(d, id); c == nil || c.rec.ID != id || !ok || cur.Version != c.baseVersion {
			r, err := q.getRecord(t, d, id)
			if err != nil {
				return err
			}
			if c, err = q.buildClaim(r, req, now); err != nil {
				return err
			}
		}
		if err := q.putSealedRecord(t, d, c.rec, Ready, c.sealed); err != nil {
			return err
		}
		if err := t.put(bRecords, c.auditKey, c.audit); err != nil {
			return err
		}
		o.changes = []Change{{ID: id, State: Filing}}
		out = &Claim{Ticket: Ticket{ID: id, Token: c.rec.Lease.Token}, Record: c.rec} // committed: copied below
		return nil
	}
	if err := q.submit(ctx, o); err != nil {
		return nil, err
	}
	out.Record = out.Record.clone()
	return out, nil
}

// prepareClaim works out a claim of the record the commit is expected to pick, from the
// committed index and the cached record, and marks it expected. It returns nil if there is
// nothing to expect.
func (q *Queue) prepareClaim(req ClaimRequest) *preparedChange {
	now := q.now().UTC()
	q.claims.mu.Lock()
	id, _, ok := q.findDue(nil, q.mono(), req.Eligible, q.claims.expected)
	if ok {
		q.claims.expect(id)
	}
	q.claims.mu.Unlock()
	if !ok {
		return nil
	}
	r, cached := q.cached(nil, id)
	if !cached || r.State != Ready {
		q.claims.release(id)
		return nil
	}
	c, err := q.buildClaim(r.clone(), req, now)
	if err != nil {
		q.claims.release(id)
		return nil
	}
	return c
}

// buildClaim leases r (which it changes) and encodes and seals the result and its audit
// entry.
func (q *Queue) buildClaim(r *Record, req ClaimRequest, now time.Time) (*preparedChange, error) {
	c := &preparedChange{baseVersion: r.Version, from: r.State}
	token := q.leaseSeq.Add(1)<<16 | uint64(rand.Uint32()&0xffff)
	r.State, r.UpdatedAt = Filing, now
	r.Lease = &Lease{Owner: req.Owner, Token: token, Expires: now.Add(req.Lease)}
	r.Version++
	var err error
	if c.sealed, err = q.sealRecord(r); err != nil {
		return nil, err
	}
	if c.auditKey, c.audit, err = q.sealAudit(&AuditEntry{At: now, RecordID: r.ID, JobID: r.JobID, Action: ActionClaimed,
		From: Ready, To: Filing, Actor: Actor{Component: req.Owner}}); err != nil {
		return nil, err
	}
	c.rec = r
	return c, nil
}

// claimHints are the records that claims in progress expect to be given, so that claims
// made at the same time work out different records.
type claimHints struct {
	mu       sync.Mutex
	expected map[uint64]int // record → claims expecting it
}

// expect marks id expected. Caller holds mu.
func (h *claimHints) expect(id uint64) {
	if h.expected == nil {
		h.expected = map[uint64]int{}
	}
	h.expected[id]++
}

// release forgets that a claim expected id.
func (h *claimHints) release(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.expected[id]--; h.expected[id] <= 0 {
		delete(h.expected, id)
	}
}

// findDue returns the oldest ready record that is due and eligible (and not in skip), or
// the time the next one becomes due.
func (q *Queue) findDue(d *delta, now time.Time, eligible func(string) bool, skip map[uint64]int) (id uint64, next time.Time, ok bool) {
	q.eachIn(d, Ready, func(rid uint64, e live) {
		if eligible != nil && !eligible(e.author) {
			return
		}
		if _, skipped := skip[rid]; skipped {
			return
		}
		if !e.due.After(now) {
			if !ok || rid < id {
				id, ok = rid, true
			}
			return
		}
		if next.IsZero() || e.due.Before(next) {
			next = e.due
		}
	})
	if ok {
		next = time.Time{}
	}
	return id, next, ok
}

// leased applies a change to a record the caller holds the lease of.
func (q *Queue) leased(ctx context.Context, t Ticket, action string,
	mutate func(r *Record, now time.Time) (State, string, error)) (*Record, error) {
	return q.change(ctx, t.ID, Actor{Component: "filer"}, action, func(r *Record, now time.Time) (State, string, error) {
		if r.State != Filing || r.Lease == nil || r.Lease.Token != t.Token {
			return "", "", ErrLeaseLost
		}
		to, detail, err := mutate(r, now)
		if to != Filing {
			r.Lease = nil
		}
		return to, detail, err
	})
}

// RenewLease extends the caller's lease by d from now.
func (q *Queue) RenewLease(ctx context.Context, t Ticket, d time.Duration) error {
	_, err := q.leased(ctx, t, "lease-renewed", func(r *Record, now time.Time) (State, string, error) {
		r.Lease.Expires = now.Add(d)
		return Filing, "", nil
	})
	return err
}

// FilingOutcome is what the clinical system said when it took a filing.
type FilingOutcome struct {
	ConsultationGUID string
	ConsultationID   string
}

// MarkFiled records a successful filing. This is the end of the record's journey.
func (q *Queue) MarkFiled(ctx context.Context, t Ticket, f FilingOutcome) (*Record, error) {
	return q.leased(ctx, t, ActionFiled, func(r *Record, now time.Time) (State, string, error) {
		r.ConsultationGUID, r.ConsultationID = f.ConsultationGUID, f.ConsultationID
		r.OutcomeUnknown = false
		r.Reason = nil
		r.addAttempt(Attempt{At: now, Outcome: "filed"})
		return Filed, "", nil
	})
}

// Disposition says what to do with a record whose filing attempt failed.
type Disposition int

const (
	// RetryLater: a passing failure (network, 500, timeout). Back off and try again, and
	// ask for attention after the policy's maximum attempts.
	RetryLater Disposition = iota + 1
	// Release: not the record's fault and not an attempt (the author's session needs
	// refreshing, the application is deactivated). Back to ready, due now; the engine
	// holds the author's records until the condition clears.
	Release
	// Attention: retrying cannot help (a bad request, a patient mismatch found at filing).
	Attention
)

// Failure describes a failed filing attempt. Code and Detail go into the attempt history
// and the audit trail: never patient data. Reason (for Attention) may name the patient.
type Failure struct {
	Disposition Disposition
	Code        string
	Detail      string
	Reason      *Reason
	// OutcomeUnknown: the request may have reached the clinical system (a timeout after
	// sending it). The next attempt must look for the consultation before filing again.
	OutcomeUnknown bool
}

// FailFiling records a failed attempt and moves the record on as f.Disposition says.
func (q *Queue) FailFiling(ctx context.Context, t Ticket, f Failure) (*Record, error) {
	if f.Code == "" {
		return nil, errors.New("queue: fail filing: a failure code is required")
	}
	return q.leased(ctx, t, ActionFilingFailed, func(r *Record, now time.Time) (State, string, error) {
		r.OutcomeUnknown = r.OutcomeUnknown || f.OutcomeUnknown
		switch f.Disposition {
		case Release:
			r.addAttempt(Attempt{At: now, Outcome: "released", Code: f.Code, Detail: f.Detail})
			r.NextAttemptAt = time.Time{}
			return Ready, f.Code, nil
		case RetryLater:
			r.addAttempt(Attempt{At: now, Outcome: "retry", Code: f.Code, Detail: f.Detail})
			n := r.consecutiveRetries()
			if q.opts.Retry.MaxAttempts > 0 && n >= q.opts.Retry.MaxAttempts {
				r.Reason = &Reason{Code: "retries-exhausted",
					Text: fmt.Sprintf("Filing failed %d times in a row (last: %s).", n, f.Code),
					Fix:  "Check the conditions shown for the clinical system connection, then choose Retry."}
				return NeedsAttention, f.Code, nil
			}
			r.NextAttemptAt = now.Add(q.opts.Retry.Delay(n, rand.Float64()))
			return Ready, f.Code, nil
		case Attention:
			r.addAttempt(Attempt{At: now, Outcome: "attention", Code: f.Code, Detail: f.Detail})
			reason := Reason{Code: f.Code}
			if f.Reason != nil {
				reason = *f.Reason
			}
			r.Reason = &reason
			return NeedsAttention, f.Code, nil
		}
		return "", "", fmt.Errorf("unknown disposition %d", f.Disposition)
	})
}

// maxAttempts bounds the attempt history kept on a record.
const maxAttempts = 50

func (r *Record) addAttempt(a Attempt) {
	r.Attempts = append(r.Attempts, a)
	if len(r.Attempts) > maxAttempts {
		r.Attempts = append(r.Attempts[:0:0], r.Attempts[len(r.Attempts)-maxAttempts:]...)
	}
}

// consecutiveRetries counts the trailing "retry" attempts.
func (r *Record) consecutiveRetries() int {
	n := 0
	for i := len(r.Attempts) - 1; i >= 0 && r.Attempts[i].Outcome == "retry"; i-- {
		n++
	}
	return n
}

// recoverLeases puts filings whose lease expired before now, on the monotonic clock (every filing if now is zero:
// at open, the database lock proves the previous holder is gone) back to ready, flagged
// outcome unknown. It returns the ids it recovered.
func (q *Queue) recoverLeases(t *wtx, d *delta, now time.Time) ([]uint64, error) {
	var ids []uint64
	q.eachIn(d, Filing, func(id uint64, e live) {
		if now.IsZero() || !e.due.After(now) {
			ids = append(ids, id)
		}
	})
	slices.Sort(ids)
	at := q.now().UTC()
	for _, id := range ids {
		r, err := q.getRecord(t, d, id)
		if err != nil {
			return nil, err
		}
		r.State, r.Lease, r.OutcomeUnknown = Ready, nil, true
		r.NextAttemptAt, r.UpdatedAt = time.Time{}, at
		r.addAttempt(Attempt{At: at, Outcome: "lease-expired", Code: "interrupted", Detail: OutcomeUnknownFix})
		r.Version++
		if err := q.putRecord(t, d, r, Filing); err != nil {
			return nil, err
		}
		if err := q.appendAudit(t, AuditEntry{At: at, RecordID: id, JobID: r.JobID, Action: ActionLeaseRecovered,
			From: Filing, To: Ready, Actor: Actor{Component: "queue"}, Detail: OutcomeUnknownFix}); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
