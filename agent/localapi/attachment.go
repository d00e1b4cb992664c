package localapi

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// maxServedAttachment bounds the attachment content the API reads into memory to serve:
// content is authenticated only once read to the end, so it is read whole before any byte
// is sent. Larger than any attachment the checks let through.
const maxServedAttachment = 4 * checks.DefaultMaxAttachmentBytes

// matchTimeout bounds the clinical-system look-up made for a record's detail.
const matchTimeout = 10 * time.Second

// GET /queue/{id}/attachments/{index}: the record's clinician only. The bytes, with the
// attachment's media type; never cached.
func (s *Server) attachment(w http.ResponseWriter, r *http.Request) {
	id, ok := recordID(w, r)
	if !ok {
		return
	}
	index, err := strconv.Atoi(r.PathValue("index"))
	if err != nil || index < 0 {
		badRequest(w, fmt.Sprintf("%q is not an attachment index (0, 1, …)", r.PathValue("index")))
		return
	}
	rec, err := s.opts.Queue.Get(id)
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.caller(r)
	if !c.owns(rec) {
		forbid(w, c.notOwner(rec, "open attachments of"))
		return
	}
	rc, err := s.opts.Queue.OpenAttachment(id, index)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxServedAttachment+1))
	if err != nil {
		s.fail(w, fmt.Errorf("localapi: read attachment %d of record %d: %w", index, id, err))
		return
	}
	if len(data) > maxServedAttachment {
		writeError(w, http.StatusRequestEntityTooLarge, apitype.CodeBadRequest,
			fmt.Sprintf("attachment %d of record %d is larger than %d bytes: open it in the clinical system once filed", index, id, maxServedAttachment))
		return
	}
	ref := rec.Attachments[index]
	h := w.Header()
	h.Set("Content-Type", ref.MediaType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": ref.FileName}))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// match looks the writeback's patient up in the clinical system as its author, for the
// clinician to compare before confirming. A failed look-up is reported in the answer (never
// with patient data: the clinical port's errors carry none): the window says so and does
// not let the clinician confirm blind.
func (s *Server) match(ctx context.Context, rec *queue.Record, p writeback.Patient) *apitype.Match {
	m := &apitype.Match{NHSNumberValid: checks.ValidNHSNumber(p.NHSNumber), IdentityVerified: p.IdentityVerified,
		CheckedAt: time.Now().UTC()}
	if s.opts.FindPatients == nil {
		m.Error = "the clinical system cannot be asked for the patient now"
		return m
	}
	ctx, cancel := context.WithTimeout(ctx, matchTimeout)
	defer cancel()
	found, err := s.opts.FindPatients(ctx, rec.Author, p.NHSNumber)
	if err != nil {
		s.opts.Logger.Warn("patient look-up for review failed", "record", rec.ID, "err", err)
		m.Error = "the clinical system could not be asked for the patient: " + err.Error()
		return m
	}
	var matches []clinical.Patient
	for _, f := range found {
		if sameNHSNumber(f.NHSNumber, p.NHSNumber) {
			matches = append(matches, f)
		}
	}
	m.Matches = len(matches)
	if len(matches) == 1 {
		f := matches[0]
		m.Patient = &apitype.MatchedPatient{NHSNumber: f.NHSNumber, FamilyName: f.FamilyName, GivenNames: f.GivenNames,
			DateOfBirth: f.DateOfBirth, Deceased: f.Deceased, Registered: f.Registered}
	}
	return m
}

func sameNHSNumber(a, b string) bool {
	norm := func(s string) string {
		out := make([]byte, 0, 10)
		for i := 0; i < len(s); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				out = append(out, s[i])
			}
		}
		return string(out)
	}
	return norm(a) != "" && norm(a) == norm(b)
}
