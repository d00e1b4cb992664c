// Package clinical is the agent's port to a clinical system: the few operations the filing
// engine needs, with typed outcomes, so that the engine depends on this package and never on
// a particular system's API. Package clinical/emisx adapts it to the EMIS-X Partner API.
//
// Every operation acts as one clinician (the writeback's author, named by their user id in
// the clinical system), with that clinician's own session. An operation that fails returns
// an *Error whose Kind says what the agent should do about it (see errors.go). Whether the
// patient a search found is the writeback's patient is not decided here but by package
// checks: FindPatients returns what the clinical system holds.
//
// Nothing in this package's errors carries patient data: errors name the operation, the kind,
// the HTTP status and the system's outcome number, never a query, a body or a name.
package clinical

import (
	"context"
	"io"
	"time"
)

// System is a clinical system the agent files into.
type System interface {
	// Probe checks that the integration works for the clinician: they are linked, their
	// session is valid, the application is active and the clinician may use it.
	Probe(ctx context.Context, clinicalUserID string) error
	// FindPatients returns the patients whose record carries the NHS number (normally one).
	FindPatients(ctx context.Context, clinicalUserID, nhsNumber string) ([]Patient, error)
	// File files a writeback into a patient's record as a new consultation with the given
	// GUID. An error with OutcomeUnknown set may hide a filing that happened: look the GUID up
	// with FindConsultation before filing again. File returns once it has closed every
	// attachment reader it opened.
	File(ctx context.Context, f *Filing) (Consultation, error)
	// FindConsultation looks up the consultation with the GUID in the patient's record. It
	// returns an error of kind ErrConsultationNotFound when the record has none.
	FindConsultation(ctx context.Context, clinicalUserID, patientID, guid string) (Consultation, error)
}

// Patient is a patient's record as the clinical system holds it.
type Patient struct {
	ID          string // the clinical system's identifier of the record (EMIS: patient number)
	NHSNumber   string // ten digits, or empty
	FamilyName  string
	GivenNames  string
	DateOfBirth string // YYYY-MM-DD; empty if the system gave none it could read
	Deceased    bool
	Registered  bool // registered at the practice now (false once deducted or deceased)
}

// Filing is one writeback to file as a new consultation.
type Filing struct {
	ClinicalUserID   string // the author, whose session files it
	PatientID        string // Patient.ID of the record to file into
	ConsultationGUID string // see ConsultationGUID
	Date             time.Time
	PfsVisible       bool   // visible to the patient online, as the clinician chose
	Summary          string // filed as a text comment; empty files none
	Codes            []Code
	Attachments      []Attachment
}

// Code is a SNOMED CT coded entry, optionally with a numeric value.
type Code struct {
	ConceptID string
	Term      string
	Value     *float64
	Unit      string
}

// Attachment is a file to attach. Its content is not held in memory: the adapter opens it
// while it sends the filing and streams it into the request, so that an attachment of many
// megabytes costs a small buffer, not copies of itself.
type Attachment struct {
	FileName  string
	MediaType string
	// Size is the content's exact length in bytes, or -1 if it is not known. An adapter may
	// announce the request's length from it, and fails the filing (see Open) if the content
	// turns out longer or shorter.
	Size int64
	// Open returns a new reader of the content from its start. It may be called more than
	// once for one filing (a request sent again reads the content again) and from another
	// goroutine than File's; every reader it returns is closed.
	//
	// The content is authentic only once its reader has returned io.EOF: a reader over the
	// agent's sealed store authenticates each chunk as it goes and checks the length and
	// hash at the end, returning an error instead of io.EOF if the content was altered. An
	// adapter therefore reads it to io.EOF before it lets the clinical system see a complete
	// request, and aborts the request if Open or the reader fails: File then fails with
	// CauseAttachmentUnreadable (see there). The errors of Open and of its readers must
	// carry no patient data, like this package's own.
	Open func() (io.ReadCloser, error)
}

// Consultation identifies a filed consultation.
type Consultation struct {
	GUID string
	ID   string // the clinical system's own id for it; empty if it did not say
}
