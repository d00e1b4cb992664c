package clinical

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind says what went wrong in terms the agent can act on. Its value is a stable kebab-case
// code: it is recorded in attempt histories and shown in conditions, so never change one.
//
// A Kind is itself an error, so that errors.Is(err, clinical.ErrNotLinked) works on an *Error
// and a session store can return a bare kind (ErrNotLinked) when it has nothing to add.
type Kind string

func (k Kind) Error() string { return "clinical system: " + string(k) }

// What the agent does about each kind is decided by the filing engine; the comments give
// the intent.
const (
	// ErrTransient: the system did not answer, answered with a server error or timed out.
	// Try again later.
	ErrTransient Kind = "transient"
	// ErrTokenExpired: the system refused the access token as expired. Refresh the session.
	ErrTokenExpired Kind = "token-expired"
	// ErrNotLinked: the clinician has not linked their clinical-system account to the agent.
	ErrNotLinked Kind = "not-linked"
	// ErrRelinkNeeded: the clinician's session cannot be used or refreshed any more (the
	// refresh token was refused, the session ended, access changed since they signed in).
	// They must sign in again with `wbagent link`.
	ErrRelinkNeeded Kind = "relink-needed"
	// ErrApplicationNotActivated: the practice has not activated the agent's application
	// (EMAS Manager > Partner API), or the system does not know it.
	ErrApplicationNotActivated Kind = "application-not-activated"
	// ErrNoLoginAccess: the clinician may not use the application (Edit Users, Login Access,
	// or their account is disabled). Cause says which.
	ErrNoLoginAccess Kind = "no-login-access"
	// ErrInsufficientRole: the clinician's role does not allow filing into records.
	ErrInsufficientRole Kind = "insufficient-role"
	// ErrAccessDenied: the system refused access for a reason the agent could not name (an
	// outcome number it does not know).
	ErrAccessDenied Kind = "access-denied"
	// ErrUserNotFound: the clinician's user id names no user of the clinical system.
	ErrUserNotFound Kind = "user-not-found"
	// ErrWrongPractice: the clinical system is another practice's.
	ErrWrongPractice Kind = "wrong-practice"
	// ErrPatientNotFound: no record has the patient id given.
	ErrPatientNotFound Kind = "patient-not-found"
	// ErrPatientNotRegistered: the record no longer accepts filings (deducted or deceased).
	ErrPatientNotRegistered Kind = "patient-not-registered"
	// ErrConsultationNotFound: the record has no consultation with the GUID.
	ErrConsultationNotFound Kind = "consultation-not-found"
	// ErrDuplicateConsultation: the system refused a filing because a consultation with its
	// GUID exists. Confirm with FindConsultation before counting it as filed.
	ErrDuplicateConsultation Kind = "duplicate-consultation"
	// ErrBadRequest: the system refused the request as malformed or not permitted. It is the
	// agent's bug or an unsupported writeback: it needs a person, never a blind retry.
	ErrBadRequest Kind = "bad-request"
)

// CauseAttachmentUnreadable is the Cause of a filing that failed because an attachment could
// not be read to its end (Attachment.Open or its reader failed, or the content was not of its
// Size): the adapter aborted the request while sending it, so the clinical system never
// received a complete one. The Error's Kind is ErrTransient and it wraps the reader's error.
//
// Its outcome is nevertheless reported unknown (OutcomeUnknown), as for any request that
// failed once it may have reached the system: that the system files nothing from a body cut
// short is how any sound server behaves, not something the agent can verify from its side,
// and the cost of that caution is one look-up by GUID. Retrying cannot mend damaged
// content: the caller, which supplied the reader, decides whether it can.
const CauseAttachmentUnreadable = "attachment-unreadable"

// Error is a failed operation on the clinical system. It never carries patient data.
type Error struct {
	Op    string // the operation, e.g. "FileRecord"
	Kind  Kind
	Cause string // a finer stable code within the kind, e.g. "login-not-allowed"; may be empty
	// Status is the HTTP status the system answered with (0: no answer); LegacyOutcome the
	// outcome number it gave (0: none).
	Status        int
	LegacyOutcome int32
	// OutcomeUnknown is set when a request that changes the record may have been carried out
	// although no success was seen (a timeout, a dropped connection, a server error).
	OutcomeUnknown bool
	// RetryAfter is how long the system asked the agent to wait before calling again (the
	// Retry-After of a 429 or 503 answer); zero when it did not say.
	RetryAfter time.Duration
	Err        error // the underlying error, if any; it carries no patient data either
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("clinical system: ")
	if e.Op != "" {
		b.WriteString(e.Op + ": ")
	}
	b.WriteString(e.Code())
	if d := e.answer(); d != "" {
		b.WriteString(" (" + d + ")")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's Kind, so that errors.Is(err, clinical.ErrNotLinked) works.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// Code is the finest stable code for the error: its Cause, or its Kind.
func (e *Error) Code() string {
	if e.Cause != "" {
		return e.Cause
	}
	return string(e.Kind)
}

// Detail describes the error for an attempt history or a log line: the operation, the HTTP
// status and the outcome number. It is free of patient data.
func (e *Error) Detail() string {
	d := e.answer()
	if d == "" && e.Err != nil {
		d = "no answer"
	}
	if e.Op == "" {
		return d
	}
	if d == "" {
		return e.Op
	}
	return e.Op + ": " + d
}

func (e *Error) answer() string {
	var parts []string
	if e.Status != 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", e.Status))
	}
	if e.LegacyOutcome != 0 {
		parts = append(parts, fmt.Sprintf("legacyOutcome %d", e.LegacyOutcome))
	}
	if e.OutcomeUnknown {
		parts = append(parts, "outcome unknown")
	}
	return strings.Join(parts, ", ")
}

// KindOf returns the Kind of a clinical-system error, and "" for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	return ""
}
