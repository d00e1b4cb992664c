package filer

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// recordTimeout bounds the queue writes that record a filing's result. They run even when
// the engine is stopping, so that a finished filing is not left to its lease.
const recordTimeout = 30 * time.Second

// file files one claimed record and records the result.
func (e *Engine) file(ctx context.Context, c *queue.Claim) {
	r := c.Record
	fctx, cancel := context.WithTimeout(ctx, e.cfg.Lease*8/10)
	defer cancel()
	done, fail := e.attempt(fctx, r)
	qctx, qcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer qcancel()
	if fail == nil {
		if _, err := e.cfg.Queue.MarkFiled(qctx, c.Ticket, done); err != nil {
			e.log.Error("recording a filing failed; it is looked up before any new attempt", "record", r.ID, "err", err)
			return
		}
		e.filed(r.Author)
		e.log.Info("filed", "record", r.ID, "author", r.Author)
		return
	}
	if ctx.Err() != nil && fail.Disposition != queue.Attention {
		// The engine is stopping: this was not an attempt.
		fail.Disposition, fail.Code, fail.Detail = queue.Release, CodeInterrupted, "the agent stopped during the attempt"
	}
	if _, err := e.cfg.Queue.FailFiling(qctx, c.Ticket, *fail); err != nil {
		e.log.Error("recording a failed filing failed", "record", r.ID, "err", err)
		return
	}
	e.log.Info("filing failed", "record", r.ID, "author", r.Author, "code", fail.Code, "detail", fail.Detail,
		"disposition", dispositionName(fail.Disposition), "outcomeUnknown", fail.OutcomeUnknown)
}

// attempt tries to file a record: it finds the patient again, looks the consultation up
// first if an earlier attempt may have filed it, checks the patient again and files.
func (e *Engine) attempt(ctx context.Context, r *queue.Record) (queue.FilingOutcome, *queue.Failure) {
	doc, reason := e.documentOf(r)
	if reason != nil {
		return queue.FilingOutcome{}, e.attention(r, reason)
	}
	found, err := read(ctx, e, "FindPatients", func() ([]clinical.Patient, error) {
		return e.cfg.System.FindPatients(ctx, r.Author, doc.Patient.NHSNumber)
	})
	if err != nil {
		return queue.FilingOutcome{}, e.failure(r, asClinical("FindPatients", err))
	}
	guid := clinical.ConsultationGUID(doc.PracticeODS, doc.JobID)
	if r.OutcomeUnknown {
		// Before any check that could stop the record: a filing that happened is reported
		// as filed, whatever changed in the record since.
		for _, p := range found {
			done, err := e.reconcile(ctx, r, doc, p.ID, guid)
			switch {
			case err == nil:
				e.log.Info("an earlier attempt had filed the record", "record", r.ID)
				return done, nil
			case !errors.Is(err, clinical.ErrConsultationNotFound):
				return queue.FilingOutcome{}, e.failure(r, asClinical("FindConsultation", err))
			}
		}
	}
	patient, f := checks.Patient(doc.Patient, found)
	if f != nil {
		return queue.FilingOutcome{}, e.attention(r, failureReason(f))
	}
	reads := &attachmentReads{}
	c, err := e.cfg.System.File(ctx, filing(r, doc, e.attachments(r, reads), patient.ID, guid))
	if err == nil {
		return queue.FilingOutcome{ConsultationGUID: guid, ConsultationID: c.ID}, nil
	}
	if i, derr := reads.failure(); derr != nil {
		// An attachment was found damaged while it was being sent (after documentOf read it
		// whole): retrying cannot mend it. The filing was aborted, but its outcome is what the
		// clinical system says (unknown, for a request cut short): the record keeps it, so
		// that whoever puts it right is told to look in the record first.
		ce := asClinical("File", err)
		f := e.attention(r, damaged(r, i, derr))
		f.Detail, f.OutcomeUnknown = ce.Detail(), ce.OutcomeUnknown
		return queue.FilingOutcome{}, f
	}
	if !errors.Is(err, clinical.ErrDuplicateConsultation) {
		return queue.FilingOutcome{}, e.failure(r, asClinical("File", err))
	}
	// Refused as a duplicate: filed only if the record shows it.
	done, err := e.lookUp(ctx, r, patient.ID, guid)
	switch {
	case err == nil:
		return done, nil
	case errors.Is(err, clinical.ErrConsultationNotFound):
		return queue.FilingOutcome{}, e.attention(r, &queue.Reason{Code: CodeDuplicateUnconfirmed,
			Text: "The clinical system says this consultation is already filed, but it cannot be found in the patient's record.",
			Fix:  "Look for the consultation in the patient's record. If it is there, reject this writeback; if not, report this to Writeback Agent support and file the outcome by hand."})
	}
	return queue.FilingOutcome{}, e.failure(r, asClinical("FindConsultation", err))
}

func (e *Engine) lookUp(ctx context.Context, r *queue.Record, patientID, guid string) (queue.FilingOutcome, error) {
	c, err := read(ctx, e, "FindConsultation", func() (clinical.Consultation, error) {
		return e.cfg.System.FindConsultation(ctx, r.Author, patientID, guid)
	})
	return queue.FilingOutcome{ConsultationGUID: guid, ConsultationID: c.ID}, err
}

// documentOf returns a record's document, having read its attachments to the end (so
// authenticated, at the cost of a read of each, never held in memory), or the reason it
// cannot be filed: a damaged attachment is found here, before anything is sent.
func (e *Engine) documentOf(r *queue.Record) (*writeback.Writeback, *queue.Reason) {
	doc, err := e.cfg.Queue.Document(r.ID)
	if err != nil {
		return nil, unreadable(err)
	}
	for i := range r.Attachments {
		if _, err := e.readAttachment(r.ID, i, io.Discard); err != nil {
			return nil, damaged(r, i, err)
		}
	}
	return doc, nil
}

func filing(r *queue.Record, doc *writeback.Writeback, atts []clinical.Attachment, patientID, guid string) *clinical.Filing {
	f := &clinical.Filing{
		ClinicalUserID: r.Author, PatientID: patientID, ConsultationGUID: guid,
		Date: doc.CreatedAt, PfsVisible: r.PfsVisible, Summary: doc.Summary, Attachments: atts,
	}
	for _, c := range doc.Codes {
		f.Codes = append(f.Codes, clinical.Code{ConceptID: c.Code, Term: c.Display, Value: c.Value, Unit: c.Unit})
	}
	return f
}

// attachments returns the record's attachments for the clinical system to stream from the
// queue as it sends the filing. A failure to open or read one is kept in reads.
func (e *Engine) attachments(r *queue.Record, reads *attachmentReads) []clinical.Attachment {
	atts := make([]clinical.Attachment, len(r.Attachments))
	for i, a := range r.Attachments {
		atts[i] = clinical.Attachment{FileName: a.FileName, MediaType: a.MediaType, Size: a.Size,
			Open: func() (io.ReadCloser, error) {
				rc, err := e.cfg.Queue.OpenAttachment(r.ID, i)
				if err != nil {
					reads.fail(i, err)
					return nil, err
				}
				return &watchedReader{rc: rc, index: i, reads: reads}, nil
			}}
	}
	return atts
}

// attachmentReads keeps the first attachment that could not be read during a filing.
type attachmentReads struct {
	mu    sync.Mutex
	index int
	err   error
}

func (a *attachmentReads) fail(i int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.index, a.err = i, err
	}
}

// failure returns the attachment that could not be read and why; a nil error if none.
func (a *attachmentReads) failure() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.index, a.err
}

// watchedReader reports to reads the error its attachment reader fails with (io.EOF is
// success), unless it was closed first: a read cut short by Close is not damage.
type watchedReader struct {
	rc     io.ReadCloser
	index  int
	reads  *attachmentReads
	closed atomic.Bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.rc.Read(p)
	if err != nil && err != io.EOF && !w.closed.Load() {
		w.reads.fail(w.index, err)
	}
	return n, err
}

func (w *watchedReader) Close() error {
	w.closed.Store(true)
	return w.rc.Close()
}

// failure decides what to do about a failed attempt, pausing the author if their
// integration is at fault.
func (e *Engine) failure(r *queue.Record, ce *clinical.Error) *queue.Failure {
	if action(ce.Kind) == attend {
		f := e.attention(r, refusalReason(ce))
		f.Code, f.Detail, f.OutcomeUnknown = ce.Code(), ce.Detail(), ce.OutcomeUnknown
		return f
	}
	f := &queue.Failure{Disposition: queue.RetryLater, Code: ce.Code(), Detail: ce.Detail(), OutcomeUnknown: ce.OutcomeUnknown}
	if action(ce.Kind) == pause {
		f.Disposition = queue.Release
		e.pause(r.Author, ce)
		return f
	}
	// A passing failure: this record is retried with the queue's back-off; the author's
	// other records go on, unless the clinical system stays unreachable.
	e.passingFailure(r.Author, ce)
	return f
}

// attention stops the record for a person. If an earlier attempt may have filed it, the
// reason says so: whoever puts it right must look in the record before filing by hand.
func (e *Engine) attention(r *queue.Record, reason *queue.Reason) *queue.Failure {
	if r.OutcomeUnknown {
		rr := *reason
		rr.Text += " An earlier attempt may have filed it: look for it in the patient's record before filing anything by hand."
		reason = &rr
	}
	return &queue.Failure{Disposition: queue.Attention, Code: reason.Code, Reason: reason}
}

func dispositionName(d queue.Disposition) string {
	switch d {
	case queue.RetryLater:
		return "retry"
	case queue.Release:
		return "release"
	case queue.Attention:
		return "attention"
	}
	return "unknown"
}
