package queue

import (
	"slices"
	"time"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Record is what the queue knows about one writeback, without its patient content. It is
// stored sealed (its reason texts can name the patient) and is small, so that a transition
// rewrites a few hundred bytes, never the document or its attachments.
type Record struct {
	ID     uint64 `json:"id"`
	JobID  string `json:"jobId"`
	State  State  `json:"state"`
	Author string `json:"author"` // the author's clinical-system user id (not patient data)

	Reason *Reason `json:"reason,omitempty"` // why it needs attention, was rejected or cancelled

	// Set when a clinician confirms the filing.
	ConfirmedBy *Actor    `json:"confirmedBy,omitempty"`
	ConfirmedAt time.Time `json:"confirmedAt,omitzero"`
	PfsVisible  bool      `json:"pfsVisible"` // visible to the patient online, as the clinician chose

	// Filing.
	Attempts         []Attempt `json:"attempts,omitempty"`
	NextAttemptAt    time.Time `json:"nextAttemptAt,omitzero"`
	Lease            *Lease    `json:"lease,omitempty"`
	OutcomeUnknown   bool      `json:"outcomeUnknown,omitempty"` // a filing may have happened: check before re-filing
	ConsultationGUID string    `json:"consultationGuid,omitempty"`
	ConsultationID   string    `json:"consultationId,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// WipedAt is set once retention removed the patient content; the record stays as a
	// tombstone for audit.
	WipedAt time.Time `json:"wipedAt,omitzero"`

	Attachments []AttachmentRef `json:"attachments,omitempty"`
	// Reported is what the record's source last told its platform about it (a key the
	// source chooses, such as "filed|"), so that a restart does not report an outcome twice.
	Reported string `json:"reported,omitempty"`
	Version  uint64 `json:"version"` // bumped on every change
}

// Reason says why a record stopped, in a stable code and plain English.
type Reason struct {
	Code string `json:"code"`           // stable, e.g. "surname-mismatch"
	Text string `json:"text,omitempty"` // what is wrong (may name the patient: sealed, wiped)
	Fix  string `json:"fix,omitempty"`  // the exact steps to put it right
}

// Actor is who did something: the OS user at the PC and, when known, their clinical-system
// user, or a component of the agent itself.
type Actor struct {
	OSUser       string `json:"osUser,omitempty"`
	ClinicalUser string `json:"clinicalUser,omitempty"`
	Component    string `json:"component,omitempty"` // e.g. "source", "checks", "filer"
}

// Attempt is one try at filing.
type Attempt struct {
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`          // "filed", "retry", "released", "attention", "lease-expired"
	Code    string    `json:"code,omitempty"`   // the failure's reason code
	Detail  string    `json:"detail,omitempty"` // never patient data
}

// Lease is the filing engine's claim on a record in state filing.
type Lease struct {
	Owner   string    `json:"owner"`
	Token   uint64    `json:"token"`
	Expires time.Time `json:"expires"`
}

// AttachmentRef describes an attachment stored as its own encrypted file.
type AttachmentRef struct {
	Index     int    `json:"index"`
	FileName  string `json:"fileName"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	SHA256    []byte `json:"sha256"`
}

// body is the sealed patient content of a record: the document as received, without its
// attachments' bytes.
type body struct {
	Doc *writeback.Writeback `json:"doc"`
	// Digest is what bodies stored before encBodyV2 hold to spot a resent job that changed:
	// the SHA-256 of the document's encoding and its attachments' hashes (see v1Digest).
	Digest []byte `json:"digest"`
}

// clone returns a deep copy of r that can be changed without touching r.
func (r *Record) clone() *Record {
	c := *r
	if r.Reason != nil {
		reason := *r.Reason
		c.Reason = &reason
	}
	if r.ConfirmedBy != nil {
		by := *r.ConfirmedBy
		c.ConfirmedBy = &by
	}
	if r.Lease != nil {
		lease := *r.Lease
		c.Lease = &lease
	}
	c.Attempts = slices.Clone(r.Attempts)
	c.Attachments = slices.Clone(r.Attachments)
	return &c
}
