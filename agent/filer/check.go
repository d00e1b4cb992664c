package filer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// checkActor is who the audit trail says checked a record.
var checkActor = queue.Actor{Component: "checks"}

// checkReceived starts checks of received records of healthy authors while checking
// workers are free, reading the received records one at a time and only as far as it must.
// It returns when the earliest record whose check is backing off falls due (zero: none is).
func (e *Engine) checkReceived(ctx context.Context, jobs *running) (time.Time, error) {
	next := e.forgetDeferred()
	if jobs.checks == e.cfg.Workers {
		return next, nil
	}
	now := time.Now()
	var start []*queue.Record
	full := errors.New("workers full")
	err := e.cfg.Queue.Each(queue.Filter{States: []queue.State{queue.Received}}, func(r *queue.Record) error {
		if !e.eligible(r.Author) || !e.startChecking(r.ID, now) {
			return nil
		}
		start = append(start, r)
		if jobs.checks+len(start) == e.cfg.Workers {
			return full
		}
		return nil
	})
	if err != nil && !errors.Is(err, full) {
		for _, r := range start {
			e.doneChecking(r.ID)
		}
		return time.Time{}, fmt.Errorf("filer: list received records: %w", err)
	}
	for _, r := range start {
		e.start(jobs, checkJob, func() {
			defer e.doneChecking(r.ID)
			e.check(ctx, r)
		})
	}
	return next, nil
}

// forgetDeferred drops the back-off of records no longer received, and returns when the
// earliest remaining one falls due.
func (e *Engine) forgetDeferred() time.Time {
	e.mu.Lock()
	ids := make([]uint64, 0, len(e.deferred))
	for id := range e.deferred {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	var next time.Time
	for _, id := range ids {
		r, err := e.cfg.Queue.Get(id)
		e.mu.Lock()
		if d := e.deferred[id]; d != nil {
			if err != nil || r.State != queue.Received {
				delete(e.deferred, id)
			} else {
				next = earliest(next, d.next)
			}
		}
		e.mu.Unlock()
	}
	return next
}

// startChecking marks a record as being checked, unless it is already, or its check is
// backing off after a passing failure.
func (e *Engine) startChecking(id uint64, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.checking[id] {
		return false
	}
	if d := e.deferred[id]; d != nil && now.Before(d.next) {
		return false
	}
	e.checking[id] = true
	return true
}

// deferCheck backs off a record's check after a passing failure.
func (e *Engine) deferCheck(id uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.deferred[id]
	if d == nil {
		d = &checkRetry{}
		e.deferred[id] = d
	}
	d.failures++
	d.next = time.Now().Add(e.cfg.CheckRetry.Delay(d.failures, rand.Float64()))
}

func (e *Engine) doneChecking(id uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.checking, id)
}

// check runs the checks on one record and moves it on: to be confirmed (or filed, if it was
// confirmed before), or to a person with the reason. A failure of the clinical system pauses
// the author instead, leaving the record to be checked again.
func (e *Engine) check(ctx context.Context, r *queue.Record) {
	reason, err := e.checkRecord(ctx, r)
	if err != nil {
		if ctx.Err() != nil {
			return // the engine is stopping: the record is checked when it starts again
		}
		ce := asClinical("FindPatients", err)
		switch action(ce.Kind) {
		case pause:
			e.pause(r.Author, ce)
			return
		case retry:
			// This record's check is tried again shortly; the author's other records go on.
			e.deferCheck(r.ID)
			e.passingFailure(r.Author, ce)
			e.log.Info("check failed for now; tried again shortly", "record", r.ID, "author", r.Author,
				"code", ce.Code(), "detail", ce.Detail())
			return
		}
		reason = refusalReason(ce)
	} else {
		e.answered(r.Author)
	}
	e.mu.Lock()
	delete(e.deferred, r.ID)
	e.mu.Unlock()
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var moved *queue.Record
	if reason != nil {
		moved, err = e.cfg.Queue.NeedsAttention(qctx, r.ID, *reason, checkActor)
	} else {
		moved, err = e.cfg.Queue.MarkChecked(qctx, r.ID, checkActor)
	}
	switch {
	case errors.Is(err, queue.ErrIllegalTransition), errors.Is(err, queue.ErrNotFound):
		e.log.Info("record changed while it was checked", "record", r.ID)
	case err != nil:
		e.log.Error("recording a check failed", "record", r.ID, "err", err)
	default:
		e.log.Info("record checked", "record", r.ID, "state", moved.State, "reason", reasonCode(reason))
	}
}

// checkRecord returns the reason the record cannot be filed (nil if none), or the error of
// the clinical system that kept it from deciding.
func (e *Engine) checkRecord(ctx context.Context, r *queue.Record) (*queue.Reason, error) {
	doc, err := e.cfg.Queue.Document(r.ID)
	if err != nil {
		return unreadable(err), nil
	}
	atts := attachmentsOf(r)
	if f := e.cfg.Checks.Writeback(doc, atts); f != nil {
		return failureReason(f), nil
	}
	for i := range atts {
		head, err := e.readAttachment(r.ID, i, io.Discard)
		if err != nil {
			return damaged(r, i, err), nil
		}
		if f := e.cfg.Checks.AttachmentContent(i, atts[i], head); f != nil {
			return failureReason(f), nil
		}
	}
	found, err := read(ctx, e, "FindPatients", func() ([]clinical.Patient, error) {
		return e.cfg.System.FindPatients(ctx, r.Author, doc.Patient.NHSNumber)
	})
	if err != nil {
		return nil, err
	}
	if _, f := checks.Patient(doc.Patient, found); f != nil {
		return failureReason(f), nil
	}
	return nil, nil
}

func attachmentsOf(r *queue.Record) []checks.Attachment {
	atts := make([]checks.Attachment, len(r.Attachments))
	for i, a := range r.Attachments {
		atts[i] = checks.Attachment{FileName: a.FileName, MediaType: a.MediaType, Size: a.Size}
	}
	return atts
}

// readAttachment copies attachment i of record id to w, to the end (only content read to
// the end is authenticated), and returns its first checks.HeadSize bytes.
func (e *Engine) readAttachment(id uint64, i int, w io.Writer) ([]byte, error) {
	rc, err := e.cfg.Queue.OpenAttachment(id, i)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h := &head{}
	if _, err := io.Copy(io.MultiWriter(h, w), rc); err != nil {
		return nil, err
	}
	return h.b, nil
}

// head keeps the first checks.HeadSize bytes written to it.
type head struct{ b []byte }

func (h *head) Write(p []byte) (int, error) {
	if n := checks.HeadSize - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}
