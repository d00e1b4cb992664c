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
	// with FindConsultation before filing again.
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

// Attachment is a file to attach, with its content (already checked and read whole).
type Attachment struct {
	FileName  string
	MediaType string
	Content   []byte
}

// Consultation identifies a filed consultation.
type Consultation struct {
	GUID string
	ID   string // the clinical system's own id for it; empty if it did not say
}
