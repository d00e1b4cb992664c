package queue

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Submission is one writeback to enqueue: a validated document and, if it has attachments,
// the Stage its attachments were decoded into. A document built in memory may instead carry
// its attachments inline (DataBase64) with a nil Stage.
type Submission struct {
	Doc   *writeback.Writeback
	Stage *Stage
}

// Result says what Enqueue did with one submission.
type Result struct {
	ID      uint64
	JobID   string
	Created bool // false: the job was already queued, and this is its record
	// Conflict is set when a job already queued is sent again with different content. The
	// first version is kept; the source should report the conflict to the platform.
	Conflict bool
}

// Enqueue stores a writeback durably in state received. It returns once the record is
// committed (the caller may then acknowledge it to its source). Enqueueing a job id that is
// already queued stores nothing and returns the existing record's id.
func (q *Queue) Enqueue(ctx context.Context, sub Submission, by Actor) (Result, error) {
	res, err := q.EnqueueBatch(ctx, []Submission{sub}, by)
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// EnqueueBatch stores several writebacks in one transaction: all of them or none. A page
// pulled from the platform is queued with one call.
func (q *Queue) EnqueueBatch(ctx context.Context, subs []Submission, by Actor) ([]Result, error) {
	prepared := make([]*prepared, len(subs))
	discardAll := func() {
		for i, s := range subs {
			if prepared[i] != nil {
				prepared[i].stage.Discard()
			} else if s.Stage != nil {
				s.Stage.Discard()
			}
		}
	}
	for i, s := range subs {
		p, err := q.prepare(s, by)
		if err != nil {
			discardAll()
			return nil, fmt.Errorf("queue: enqueue %s: %w", jobOf(s), err)
		}
		prepared[i] = p
	}
	results := make([]Result, len(subs))
	o := &op{}
	o.fn = func(t *wtx, d *delta) error {
		o.changes = o.changes[:0]
		for i, p := range prepared {
			r, err := q.insert(t, d, p)
			if err != nil {
				return fmt.Errorf("queue: enqueue %s: %w", p.rec.JobID, err)
			}
			results[i] = r
			if r.Created {
				o.changes = append(o.changes, Change{ID: r.ID, State: Received})
			}
		}
		return nil
	}
	o.after = func() {
		for i, p := range prepared {
			if !results[i].Created {
				p.stage.Discard()
			}
		}
	}
	if err := q.submit(ctx, o); err != nil {
		discardAll()
		return nil, err
	}
	return results, nil
}

func jobOf(s Submission) string {
	if s.Doc == nil {
		return "(no document)"
	}
	return s.Doc.JobID
}

// prepared is a submission made ready outside the writer: its attachments on disk, its
// body, record and audit entry sealed. Only the job-id check and the puts remain for the
// writer.
type prepared struct {
	stage                   *Stage
	rec                     *Record
	body                    []byte // sealed
	sealed                  []byte // the sealed record
	auditKey                []byte
	audit                   []byte               // the sealed audit entry
	jobKey, recKey, bodyKey []byte               // the keys the group writes
	doc                     *writeback.Writeback // as stored (attachments by their hashes), to compare with a job sent again
}

func (q *Queue) prepare(s Submission, by Actor) (*prepared, error) {
	if s.Doc == nil {
		return nil, errors.New("no document")
	}
	if s.Doc.JobID == "" {
		return nil, errors.New("jobId: required")
	}
	stage := s.Stage
	if stage == nil {
		stage = q.NewStage()
	}
	doc := *s.Doc
	doc.Attachments = make([]writeback.Attachment, len(s.Doc.Attachments))
	refs := make([]AttachmentRef, len(doc.Attachments))
	for i, a := range s.Doc.Attachments {
		if !stage.has(i) {
			if a.DataBase64 == "" {
				return nil, fmt.Errorf("attachments[%d]: no content staged", i)
			}
			var err error
			if a.Size, a.SHA256, err = stageInline(stage, i, a.DataBase64); err != nil {
				return nil, fmt.Errorf("attachments[%d]: %w", i, err)
			}
		}
		a.DataBase64 = ""
		doc.Attachments[i] = a
		refs[i] = AttachmentRef{Index: i, FileName: a.FileName, MediaType: a.MediaType, Size: a.Size, SHA256: a.SHA256}
	}
	if err := stage.sync(); err != nil {
		return nil, fmt.Errorf("sync attachments: %w", q.noteFailure(err))
	}
	recKey, bodyKey := recordKey(stage.id, kindRecord), recordKey(stage.id, kindBody)
	buf, zbuf := getBuf(), getBuf()
	*buf = appendBody((*buf)[:0], &doc)
	sealedBody := q.sealer.Seal(nil, compressBody(zbuf, *buf), ad(bodyKey))
	putBuf(buf) // cleared: the plaintext names the patient
	putBuf(zbuf)
	now := q.now().UTC()
	p := &prepared{
		stage: stage,
		rec: &Record{
			ID:          stage.id,
			JobID:       doc.JobID,
			State:       Received,
			Author:      doc.Author.ClinicalUserID,
			CreatedAt:   now,
			UpdatedAt:   now,
			Attachments: refs,
			Version:     1,
		},
		doc:     &doc,
		body:    sealedBody,
		recKey:  recKey,
		bodyKey: bodyKey,
	}
	var err error
	if p.sealed, err = q.sealRecordAt(recKey, p.rec); err != nil {
		return nil, err
	}
	p.auditKey, p.audit, err = q.sealAudit(&AuditEntry{
		At: now, RecordID: p.rec.ID, JobID: p.rec.JobID, Action: ActionEnqueued, To: Received, Actor: by,
		Detail: strconv.Itoa(len(doc.Codes)) + " codes, " + strconv.Itoa(len(refs)) + " attachments",
	})
	if err != nil {
		return nil, err
	}
	p.jobKey = []byte(doc.JobID)
	return p, nil
}

// stageInline writes a base64 attachment held in memory through the stage.
func stageInline(stage *Stage, i int, b64 string) (int64, []byte, error) {
	w, err := stage.Create(i)
	if err != nil {
		return 0, nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), base64.NewDecoder(base64.StdEncoding, strings.NewReader(b64)))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, nil, fmt.Errorf("decode base64: %w", err)
	}
	return n, h.Sum(nil), nil
}

// insert runs in a group commit.
func (q *Queue) insert(t *wtx, d *delta, p *prepared) (Result, error) {
	if v := t.get(bJobs, p.jobKey); v != nil {
		id := bytesToID(v)
		res := Result{ID: id, JobID: p.rec.JobID}
		key := recordKey(id, kindBody)
		if prev := t.get(bRecords, key); prev != nil { // nil: wiped by retention
			same, err := q.sameContent(key, prev, p.doc)
			if err != nil {
				return Result{}, fmt.Errorf("record %d: %w", id, err)
			}
			res.Conflict = !same
		}
		return res, nil
	}
	id := p.rec.ID
	if err := t.put(bJobs, p.jobKey, idKey(id)); err != nil {
		return Result{}, err
	}
	if err := q.putSealedRecordAt(t, d, p.recKey, p.rec, "", p.sealed); err != nil {
		return Result{}, err
	}
	if err := t.put(bRecords, p.bodyKey, p.body); err != nil {
		return Result{}, err
	}
	if err := t.put(bRecords, p.auditKey, p.audit); err != nil {
		return Result{}, err
	}
	return Result{ID: id, JobID: p.rec.JobID, Created: true}, nil
}

// sameContent reports whether the sealed body stored under key holds doc's content.
func (q *Queue) sameContent(key, sealed []byte, doc *writeback.Writeback) (bool, error) {
	stored, err := q.sealer.Open(nil, sealed, ad(key))
	if err != nil {
		return false, err
	}
	defer clear(stored) // the plaintext names the patient
	zbuf := getBuf()
	defer putBuf(zbuf)
	plain, err := plainBody(zbuf, stored)
	if err != nil {
		return false, err
	}
	if len(plain) > 0 && plain[0] == encBodyV2 {
		buf := getBuf()
		defer putBuf(buf)
		*buf = appendBody((*buf)[:0], doc)
		return bytes.Equal(plain, *buf), nil
	}
	b, err := decodeBody(plain) // written by an earlier build: it kept a digest
	if err != nil {
		return false, err
	}
	return bytes.Equal(b.Digest, v1Digest(doc)), nil
}

func bytesToID(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
