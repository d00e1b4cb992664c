package localapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/writeback-agent/wbagent/agent/intake"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// summary is a record as caller may see it: the reason's text and fix only for its
// clinician.
func summary(c caller, rec *queue.Record) apitype.Record {
	out := apitype.Record{
		ID: rec.ID, JobID: rec.JobID, State: rec.State, ConsultationGUID: rec.ConsultationGUID,
		Author: rec.Author, Mine: c.owns(rec), PfsVisible: rec.PfsVisible, OutcomeUnknown: rec.OutcomeUnknown,
		Attempts: len(rec.Attempts), NextAttemptAt: rec.NextAttemptAt,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Version: rec.Version,
	}
	if rec.Reason != nil {
		reason := queue.Reason{Code: rec.Reason.Code}
		if out.Mine {
			reason = *rec.Reason
		}
		out.Reason = &reason
	}
	return out
}

// GET /queue?state=S…: anyone. No patient data.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	var f queue.Filter
	for _, v := range r.URL.Query()[apitype.QueryState] {
		for _, name := range strings.Split(v, ",") {
			st, err := queue.ParseState(name)
			if err != nil {
				badRequest(w, err.Error())
				return
			}
			f.States = append(f.States, st)
		}
	}
	c := s.caller(r)
	out := []apitype.Record{}
	err := s.opts.Queue.Each(f, func(rec *queue.Record) error {
		out = append(out, summary(c, rec))
		return nil
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// GET /queue/{id}: anyone; the content only for the record's clinician.
func (s *Server) record(w http.ResponseWriter, r *http.Request) {
	id, ok := recordID(w, r)
	if !ok {
		return
	}
	rec, err := s.opts.Queue.Get(id)
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.caller(r)
	d := apitype.RecordDetail{Record: summary(c, rec), History: rec.Attempts, Audit: []queue.AuditEntry{},
		Wiped: !rec.WipedAt.IsZero()}
	if d.History == nil {
		d.History = []queue.Attempt{}
	}
	if err := s.opts.Queue.Audit(0, id, func(e queue.AuditEntry) error {
		d.Audit = append(d.Audit, e)
		return nil
	}); err != nil {
		s.fail(w, err)
		return
	}
	if d.Mine && !d.Wiped {
		doc, err := s.opts.Queue.Document(id)
		switch {
		case errors.Is(err, queue.ErrWiped):
			d.Wiped = true
		case err != nil:
			s.fail(w, err)
			return
		default:
			d.Content = content(doc, rec)
			if rec.State == queue.NeedsConfirmation && r.URL.Query().Get(apitype.QueryMatch) == "true" {
				d.Match = s.match(r.Context(), rec, doc.Patient)
			}
		}
	}
	writeJSON(w, http.StatusOK, d)
}

// content is a document's patient content, with attachment sizes from the record (the
// stored document does not keep them).
func content(doc *writeback.Writeback, rec *queue.Record) *apitype.Content {
	c := &apitype.Content{
		PracticeODS: doc.PracticeODS, AuthorName: doc.Author.DisplayName, Patient: doc.Patient,
		Summary: doc.Summary, Codes: doc.Codes, Attachments: []apitype.Attachment{}, CreatedAt: doc.CreatedAt,
	}
	if c.Codes == nil {
		c.Codes = []writeback.Code{}
	}
	for i, a := range doc.Attachments {
		att := apitype.Attachment{FileName: a.FileName, MediaType: a.MediaType, Size: a.Size}
		for _, ref := range rec.Attachments {
			if ref.Index == i {
				att.Size = ref.Size
			}
		}
		c.Attachments = append(c.Attachments, att)
	}
	return c
}

// POST /queue (a writeback/v1 document): administrators. Answers once the record is
// durable.
func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	c := s.caller(r)
	if !c.Admin {
		forbid(w, "only an administrator may queue writebacks by hand")
		return
	}
	// The same validation and enqueueing as the drop folder (package intake).
	res, err := intake.Submit(r.Context(), s.opts.Queue, http.MaxBytesReader(w, r.Body, intake.MaxDocumentBytes), c.actor())
	if err != nil {
		s.fail(w, err)
		return
	}
	s.opts.Logger.Info("writeback queued by hand", "record", res.ID, "jobId", res.JobID,
		"created", res.Created, "conflict", res.Conflict, "osUser", c.User)
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, apitype.EnqueueResult{ID: res.ID, JobID: res.JobID, Created: res.Created, Conflict: res.Conflict})
}

// POST /queue/{id}/confirm: the record's clinician.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	var req apitype.ConfirmRequest
	s.act(w, r, "confirm", ownerOnly, &req, func(id uint64, c caller) (*queue.Record, error) {
		if req.PfsVisible == nil {
			return nil, errBadRequest("pfsVisible is required: choose whether the patient sees this consultation online")
		}
		return s.opts.Queue.Confirm(r.Context(), id, queue.ConfirmOptions{PfsVisible: *req.PfsVisible, Version: req.Version}, c.actor())
	})
}

// POST /queue/{id}/reject: the record's clinician.
func (s *Server) reject(w http.ResponseWriter, r *http.Request) {
	var req apitype.ReasonRequest
	s.act(w, r, "reject", ownerOnly, &req, func(id uint64, c caller) (*queue.Record, error) {
		if strings.TrimSpace(req.Reason) == "" {
			return nil, errBadRequest("a reason is required")
		}
		return s.opts.Queue.Reject(r.Context(), id, req.Reason, c.actor())
	})
}

// POST /queue/{id}/retry: the record's clinician or an administrator.
func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	s.act(w, r, "retry", ownerOrAdmin, nil, func(id uint64, c caller) (*queue.Record, error) {
		return s.opts.Queue.Retry(r.Context(), id, c.actor())
	})
}

// POST /queue/{id}/cancel: administrators.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	var req apitype.ReasonRequest
	s.act(w, r, "cancel", adminOnly, &req, func(id uint64, c caller) (*queue.Record, error) {
		if strings.TrimSpace(req.Reason) == "" {
			return nil, errBadRequest("a reason is required")
		}
		return s.opts.Queue.Cancel(r.Context(), id, req.Reason, c.actor())
	})
}

// who may act on a record.
type who int

const (
	ownerOnly who = iota
	ownerOrAdmin
	adminOnly
)

// errBadRequest is a request the handler refuses before touching the queue.
type errBadRequest string

func (e errBadRequest) Error() string { return string(e) }

// act runs one action on a record: it reads the record, checks the caller may act on it,
// decodes the body into req (if not nil), runs do and answers with the record as changed.
func (s *Server) act(w http.ResponseWriter, r *http.Request, action string, allowed who, req any,
	do func(id uint64, c caller) (*queue.Record, error)) {
	id, ok := recordID(w, r)
	if !ok {
		return
	}
	rec, err := s.opts.Queue.Get(id)
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.caller(r)
	switch {
	case allowed == adminOnly && !c.Admin:
		forbid(w, "only an administrator may "+action+" a writeback")
		return
	case allowed == ownerOrAdmin && !c.Admin && !c.owns(rec):
		forbid(w, c.notOwner(rec, action)+" (or an administrator)")
		return
	case allowed == ownerOnly && !c.owns(rec):
		forbid(w, c.notOwner(rec, action))
		return
	}
	if req != nil && !decode(w, r, req) {
		return
	}
	rec, err = do(id, c)
	var bad errBadRequest
	switch {
	case errors.As(err, &bad):
		badRequest(w, bad.Error())
		return
	case err != nil:
		s.fail(w, err)
		return
	}
	s.opts.Logger.Info("writeback "+action, "record", id, "state", rec.State, "osUser", c.User)
	writeJSON(w, http.StatusOK, summary(c, rec))
}
