package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// ours is the product's queue, driven through its real life cycle: Enqueue stores a
// writeback (received); Claim takes the oldest received record through the checks
// (needs-confirmation) and the clinician's confirmation (ready) and leases it for filing;
// Done marks it filed. A cycle is therefore five committed transitions, each with its audit
// entry, not three.
func init() {
	register(oursName, openOurs, withNote("five transitions per cycle: enqueue, checked, confirmed, claimed, filed"), withMeasurement(oursExtras))
}

type oursStore struct {
	q       *queue.Queue
	pending chan uint64 // received records not yet claimed, oldest first
}

var benchActor = queue.Actor{Component: "bench"}

func openOurs(dir string) (Store, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	q, err := queue.Open(queue.Options{Dir: dir, Key: key, IdleAfter: time.Hour})
	if err != nil {
		return nil, err
	}
	return &oursStore{q: q, pending: make(chan uint64, 1<<20)}, nil
}

func (s *oursStore) Name() string { return "writeback agent queue (bbolt, group commit, AES-GCM)" }

func benchDoc(jobID string, payload []byte) *writeback.Writeback {
	return &writeback.Writeback{
		Schema:      writeback.SchemaV1,
		JobID:       jobID,
		PracticeODS: "A12345",
		Author:      writeback.Author{ClinicalUserID: "dr.patel", DisplayName: "Dr A Patel"},
		Patient: writeback.Patient{NHSNumber: "9434765919", FamilyName: "O'Neill", GivenNames: "Siobhán",
			DateOfBirth: "1980-02-29", Sex: "female", IdentityVerified: true},
		Summary:   string(payload),
		CreatedAt: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
	}
}

func (s *oursStore) Enqueue(ctx context.Context, jobID string, payload []byte) error {
	res, err := s.q.Enqueue(ctx, queue.Submission{Doc: benchDoc(jobID, payload)}, benchActor)
	if err != nil {
		return err
	}
	if res.Created {
		s.pending <- res.ID
	}
	return nil
}

func (s *oursStore) Claim(ctx context.Context) (string, []byte, bool, error) {
	select {
	case id := <-s.pending:
		if _, err := s.q.MarkChecked(ctx, id, benchActor); err != nil {
			return "", nil, false, err
		}
		if _, err := s.q.Confirm(ctx, id, queue.ConfirmOptions{}, benchActor); err != nil {
			return "", nil, false, err
		}
	default:
	}
	c, err := s.q.Claim(ctx, queue.ClaimRequest{Owner: "bench", Lease: time.Hour})
	if errors.Is(err, queue.ErrNothingReady) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	doc, err := s.q.Document(c.ID)
	if err != nil {
		return "", nil, false, err
	}
	return fmt.Sprintf("%d:%d", c.ID, c.Token), []byte(doc.Summary), true, nil
}

func (s *oursStore) Done(ctx context.Context, id string) error {
	var t queue.Ticket
	idPart, tokPart, ok := cut(id, ':')
	if !ok {
		return fmt.Errorf("bad claim id %q", id)
	}
	var err error
	if t.ID, err = strconv.ParseUint(idPart, 10, 64); err != nil {
		return err
	}
	if t.Token, err = strconv.ParseUint(tokPart, 10, 64); err != nil {
		return err
	}
	_, err = s.q.MarkFiled(ctx, t, queue.FilingOutcome{ConsultationGUID: "bench"})
	return err
}

func (s *oursStore) Close() error { return s.q.Close() }

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
