package filer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// checkActor is who the audit trail says checked a record.
var checkActor = queue.Actor{Component: "checks"}

// checkReceived starts checks of received records of healthy authors while checking
// workers are free.
func (e *Engine) checkReceived(ctx context.Context, jobs *running) error {
	recs, err := e.cfg.Queue.List(queue.Filter{States: []queue.State{queue.Received}})
	if err != nil {
		return fmt.Errorf("filer: list received records: %w", err)
	}
	for _, r := range recs {
		if jobs.checks == e.cfg.Workers {
			return nil
		}
		if !e.eligible(r.Author) || !e.startChecking(r.ID) {
			continue
		}
		e.start(jobs, checkJob, func() {
			defer e.doneChecking(r.ID)
			e.check(ctx, r)
		})
	}
	return nil
}

func (e *Engine) startChecking(id uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.checking[id] {
		return false
	}
	e.checking[id] = true
	return true
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
		if action(ce.Kind) != attend {
			e.pause(r.Author, ce)
			return
		}
		reason = refusalReason(ce)
	}
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
	found, err := e.cfg.System.FindPatients(ctx, r.Author, doc.Patient.NHSNumber)
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
