package queue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// change applies one state transition to record id: mutate gets the current record (a
// fresh copy on every run) and the time, changes it and returns the state it moves to and a
// non-patient audit detail. The move is checked against the table of legal transitions. It
// returns the record as committed.
//
// The work is done twice over if need be, never wrongly: first here, on the committed record
// from the cache, so that encoding and sealing happen outside the commit's critical path;
// the commit then uses that result only if the record's version is still the one it was
// made from, and otherwise does it again on the current record.
func (q *Queue) change(ctx context.Context, id uint64, by Actor, action string,
	mutate func(r *Record, now time.Time) (to State, detail string, err error)) (*Record, error) {
	var out *Record // committed: never modified, so the caller gets a copy
	pre := q.prepareChange(id, by, action, mutate)
	o := &op{}
	o.fn = func(t *wtx, d *delta) error {
		c := pre
		// The commit runs one operation after another, so it does only what it must: the
		// prepared change stands if the record is still the version it was made from.
		if cur, ok := q.cached(d, id); c == nil || !ok || cur.Version != c.baseVersion {
			r, err := q.getRecord(t, d, id)
			if err != nil {
				return err
			}
			if c, err = q.buildChange(r, by, action, mutate); err != nil {
				return err
			}
		}
		if err := q.putSealedRecord(t, d, c.rec, c.from, c.sealed); err != nil {
			return err
		}
		if err := t.put(bRecords, c.auditKey, c.audit); err != nil {
			return err
		}
		o.changes = []Change{{ID: id, State: c.rec.State}}
		out = c.rec
		return nil
	}
	if err := q.submit(ctx, o); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return out.clone(), nil
}

// preparedChange is a transition worked out, encoded and sealed against one version of a
// record.
type preparedChange struct {
	baseVersion uint64
	from        State
	rec         *Record
	sealed      []byte
	auditKey    []byte
	audit       []byte
}

// prepareChange works a transition out against the committed record in the cache, if it is
// there and the transition is legal; otherwise the commit works it out.
func (q *Queue) prepareChange(id uint64, by Actor, action string,
	mutate func(r *Record, now time.Time) (State, string, error)) *preparedChange {
	r, ok := q.cached(nil, id)
	if !ok {
		return nil
	}
	c, err := q.buildChange(r.clone(), by, action, mutate)
	if err != nil {
		return nil // the commit reports it, against the current record
	}
	return c
}

// buildChange applies mutate to r (which it changes) and encodes the result.
func (q *Queue) buildChange(r *Record, by Actor, action string,
	mutate func(r *Record, now time.Time) (State, string, error)) (*preparedChange, error) {
	c := &preparedChange{baseVersion: r.Version, from: r.State}
	now := q.now().UTC()
	to, detail, err := mutate(r, now)
	if err != nil {
		return nil, fmt.Errorf("record %d: %s: %w", r.ID, action, err)
	}
	if to != c.from && !c.from.CanMoveTo(to) {
		return nil, fmt.Errorf("record %d: %s: %w: %s → %s", r.ID, action, ErrIllegalTransition, c.from, to)
	}
	r.State, r.UpdatedAt = to, now
	r.Version++
	if c.sealed, err = q.sealRecord(r); err != nil {
		return nil, err
	}
	e := AuditEntry{At: now, RecordID: r.ID, JobID: r.JobID, Action: action, Actor: by, Detail: detail}
	if to != c.from {
		e.From, e.To = c.from, to
	}
	if c.auditKey, c.audit, err = q.sealAudit(&e); err != nil {
		return nil, err
	}
	c.rec = r
	return c, nil
}

// ReportMark says that the outcome of record ID, identified by Key, reached the platform.
type ReportMark struct {
	ID  uint64
	Key string
}

// MarkReported records, in one commit, that outcomes were reported to the records' source
// (Record.Reported). It changes no state.
func (q *Queue) MarkReported(ctx context.Context, marks []ReportMark, by Actor) error {
	if len(marks) == 0 {
		return nil
	}
	o := &op{}
	o.fn = func(t *wtx, d *delta) error {
		for _, m := range marks {
			r, err := q.getRecord(t, d, m.ID)
			if err != nil {
				return err
			}
			c, err := q.buildChange(r, by, ActionReported, func(r *Record, _ time.Time) (State, string, error) {
				r.Reported = m.Key
				return r.State, m.Key, nil
			})
			if err != nil {
				return err
			}
			if err := q.putSealedRecord(t, d, c.rec, c.from, c.sealed); err != nil {
				return err
			}
			if err := t.put(bRecords, c.auditKey, c.audit); err != nil {
				return err
			}
		}
		return nil
	}
	if err := q.submit(ctx, o); err != nil {
		return fmt.Errorf("queue: mark reported: %w", err)
	}
	return nil
}

// expect returns ErrIllegalTransition unless r is in one of states.
func expect(r *Record, action string, states ...State) error {
	for _, s := range states {
		if r.State == s {
			return nil
		}
	}
	return fmt.Errorf("%w: cannot %s a record in state %s", ErrIllegalTransition, action, r.State)
}

// MarkChecked records that the pre-filing checks passed: the record waits for its
// clinician's confirmation, or, if the clinician already confirmed it before it was sent
// back for checking, it is ready to file.
func (q *Queue) MarkChecked(ctx context.Context, id uint64, by Actor) (*Record, error) {
	return q.change(ctx, id, by, ActionChecked, func(r *Record, now time.Time) (State, string, error) {
		if err := expect(r, "mark checked", Received); err != nil {
			return "", "", err
		}
		r.Reason = nil
		if r.ConfirmedBy != nil {
			r.NextAttemptAt = time.Time{}
			return Ready, "previously confirmed", nil
		}
		return NeedsConfirmation, "", nil
	})
}

// NeedsAttention stops a record that is not being filed, with a reason and the fix.
func (q *Queue) NeedsAttention(ctx context.Context, id uint64, reason Reason, by Actor) (*Record, error) {
	if reason.Code == "" {
		return nil, errors.New("queue: needs attention: a reason code is required")
	}
	return q.change(ctx, id, by, ActionNeedsAttention, func(r *Record, now time.Time) (State, string, error) {
		if err := expect(r, "flag", Received, NeedsConfirmation, Ready); err != nil {
			return "", "", err
		}
		r.Reason = &reason
		return NeedsAttention, reason.Code, nil
	})
}

// ConfirmOptions are the clinician's choices when confirming a filing.
type ConfirmOptions struct {
	PfsVisible bool // make the consultation visible to the patient online
	// Version, if not zero, must match the record's version: the clinician confirms what
	// they saw, not a record that changed since.
	Version uint64
}

// Confirm records the clinician's go-ahead: the record is ready to file.
func (q *Queue) Confirm(ctx context.Context, id uint64, opts ConfirmOptions, by Actor) (*Record, error) {
	return q.change(ctx, id, by, ActionConfirmed, func(r *Record, now time.Time) (State, string, error) {
		if err := expect(r, "confirm", NeedsConfirmation); err != nil {
			return "", "", err
		}
		if opts.Version != 0 && opts.Version != r.Version {
			return "", "", fmt.Errorf("%w: the record changed since it was shown (version %d, now %d): review it again", ErrIllegalTransition, opts.Version, r.Version)
		}
		actor := by
		r.ConfirmedBy, r.ConfirmedAt, r.PfsVisible = &actor, now, opts.PfsVisible
		r.NextAttemptAt = time.Time{}
		return Ready, fmt.Sprintf("pfsVisible=%t", opts.PfsVisible), nil
	})
}

// Reject records a clinician's decision not to file; text says why (it is sealed and wiped
// with the patient content).
func (q *Queue) Reject(ctx context.Context, id uint64, text string, by Actor) (*Record, error) {
	if text == "" {
		return nil, errors.New("queue: reject: a reason is required")
	}
	return q.change(ctx, id, by, ActionRejected, func(r *Record, now time.Time) (State, string, error) {
		if err := expect(r, "reject", NeedsConfirmation, NeedsAttention); err != nil {
			return "", "", err
		}
		r.Reason = &Reason{Code: "rejected", Text: text}
		return Rejected, "", nil
	})
}

// Cancel withdraws a record that is not being filed (the platform withdrew it, or IT
// removes a test); text says why.
func (q *Queue) Cancel(ctx context.Context, id uint64, text string, by Actor) (*Record, error) {
	if text == "" {
		return nil, errors.New("queue: cancel: a reason is required")
	}
	return q.change(ctx, id, by, ActionCancelled, func(r *Record, now time.Time) (State, string, error) {
		if err := expect(r, "cancel", Received, NeedsConfirmation, Ready, NeedsAttention); err != nil {
			return "", "", err
		}
		r.Reason = &Reason{Code: "cancelled", Text: text}
		return Cancelled, "", nil
	})
}

// Retry sends a record that needed attention back to be checked again, or makes a record
// waiting out a back-off due now.
func (q *Queue) Retry(ctx context.Context, id uint64, by Actor) (*Record, error) {
	return q.change(ctx, id, by, ActionRetried, func(r *Record, now time.Time) (State, string, error) {
		switch r.State {
		case NeedsAttention:
			r.Reason = nil
			r.NextAttemptAt = time.Time{}
			return Received, "", nil
		case Ready:
			r.NextAttemptAt = time.Time{}
			return Ready, "retry now", nil
		}
		return "", "", fmt.Errorf("%w: cannot retry a record in state %s", ErrIllegalTransition, r.State)
	})
}
