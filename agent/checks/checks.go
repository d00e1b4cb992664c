// Package checks holds the pre-filing checks: the rules a writeback must pass before the
// agent files it into a patient's record. Each failure is a *Failure with a stable reason
// code (the constants below), a plain-English account of what is wrong and the fix.
//
// The checks are, in the order they run:
//
//   - the writeback is for this agent's practice;
//   - the platform verified the patient's identity;
//   - the NHS number has 10 digits and a valid Modulus 11 check digit;
//   - every code is a SNOMED CT concept id (6–18 digits, Verhoeff check digit, concept
//     partition);
//   - every attachment has an allowed media type matching its file name and content, a safe
//     file name, and sizes within the limits; there is something to file;
//   - exactly one patient record has the NHS number, with the same family name and date of
//     birth after normalisation (case, surrounding and repeated spaces, apostrophe and hyphen
//     variants, diacritics; never fuzzy matching), and that patient is alive and registered.
//
// A Failure's Text may quote the patient's details (it is sealed with the record and wiped at
// retention); its Code and its Error string never do, so they may be logged.
package checks

import (
	"fmt"
	"strings"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Reason codes. They are stored with records and shown to staff: never change a value.
const (
	CodeWrongPractice               = "wrong-practice"
	CodeIdentityNotVerified         = "identity-not-verified"
	CodeNHSNumberMissing            = "nhs-number-missing"
	CodeNHSNumberInvalid            = "nhs-number-invalid"
	CodeSNOMEDInvalid               = "snomed-invalid"
	CodeAttachmentTypeNotAllowed    = "attachment-type-not-allowed"
	CodeAttachmentNameUnsafe        = "attachment-name-unsafe"
	CodeAttachmentExtensionMismatch = "attachment-extension-mismatch"
	CodeAttachmentContentMismatch   = "attachment-content-mismatch"
	CodeAttachmentEmpty             = "attachment-empty"
	CodeAttachmentTooLarge          = "attachment-too-large"
	CodeAttachmentsTooLarge         = "attachments-too-large"
	CodeNothingToFile               = "nothing-to-file"
	CodePatientNotFound             = "patient-not-found"
	CodeSeveralPatientsMatch        = "several-patients-match"
	CodeSurnameMismatch             = "surname-mismatch"
	CodeDOBMismatch                 = "dob-mismatch"
	CodePatientDeceased             = "patient-deceased"
	CodePatientNotRegistered        = "patient-not-registered"
)

// Failure is a check that failed: what is wrong and how to put it right.
type Failure struct {
	Code string // one of the Code constants
	Text string // what is wrong; may name the patient
	Fix  string // the steps that put it right
}

// Error returns the code alone, so that a Failure is safe to log.
func (f *Failure) Error() string { return "pre-filing check failed: " + f.Code }

// Policy holds the settings of the checks that have any.
type Policy struct {
	// PracticeODS is the ODS code of the practice this agent files for; a writeback for
	// another practice fails. Empty skips the check.
	PracticeODS string
	// MediaTypes are the attachment types the clinical system takes.
	MediaTypes []MediaType
	// MaxAttachmentBytes bounds each attachment, MaxTotalAttachmentBytes all of a writeback's:
	// the filing carries them base64-encoded in one request.
	MaxAttachmentBytes      int64
	MaxTotalAttachmentBytes int64
}

// Default attachment limits: well inside what one FileRecord request may carry.
const (
	DefaultMaxAttachmentBytes      = 10 << 20
	DefaultMaxTotalAttachmentBytes = 20 << 20
)

// DefaultPolicy returns the policy for a practice: DefaultMediaTypes and the default limits.
func DefaultPolicy(practiceODS string) Policy {
	return Policy{
		PracticeODS:             practiceODS,
		MediaTypes:              DefaultMediaTypes,
		MaxAttachmentBytes:      DefaultMaxAttachmentBytes,
		MaxTotalAttachmentBytes: DefaultMaxTotalAttachmentBytes,
	}
}

// Attachment is what the checks need to know of an attachment before reading its content.
type Attachment struct {
	FileName  string
	MediaType string
	Size      int64
}

// Writeback runs every check that needs no clinical system: practice, identity, NHS number,
// codes and attachments (their names, types and sizes; content is checked by
// AttachmentContent). It returns the first failure, or nil.
func (p *Policy) Writeback(w *writeback.Writeback, atts []Attachment) *Failure {
	if p.PracticeODS != "" && !strings.EqualFold(strings.TrimSpace(w.PracticeODS), p.PracticeODS) {
		return &Failure{Code: CodeWrongPractice,
			Text: fmt.Sprintf("The writeback is for practice %s, but this agent files for practice %s.", w.PracticeODS, p.PracticeODS),
			Fix:  "Reject it here, and check the practice the online consultation platform sends it to."}
	}
	if !w.Patient.IdentityVerified {
		return &Failure{Code: CodeIdentityNotVerified,
			Text: "The online consultation platform has not verified the patient's identity.",
			Fix:  "Verify the patient's identity in the platform and send the outcome again, then reject this one; or file it by hand once you are sure who the patient is."}
	}
	if f := nhsNumber(w.Patient.NHSNumber); f != nil {
		return f
	}
	for i, c := range w.Codes {
		if problem := snomedProblem(c.Code); problem != "" {
			return &Failure{Code: CodeSNOMEDInvalid,
				Text: fmt.Sprintf("Code %d (%s, %q) is not a valid SNOMED CT concept id: %s.", i+1, c.Code, c.Display, problem),
				Fix:  "Correct the code in the platform and send the outcome again, then reject this one; or file it by hand."}
		}
	}
	if f := p.attachments(atts); f != nil {
		return f
	}
	if strings.TrimSpace(w.Summary) == "" && len(w.Codes) == 0 && len(atts) == 0 {
		return &Failure{Code: CodeNothingToFile,
			Text: "The writeback has no summary, codes or attachments: there is nothing to file.",
			Fix:  "Check the outcome in the online consultation platform, then reject this one."}
	}
	return nil
}

func nhsNumber(n string) *Failure {
	switch {
	case strings.TrimSpace(n) == "":
		return &Failure{Code: CodeNHSNumberMissing,
			Text: "The writeback has no NHS number.",
			Fix:  "Find the patient's NHS number, add it in the online consultation platform and send the outcome again, then reject this one."}
	case !ValidNHSNumber(n):
		return &Failure{Code: CodeNHSNumberInvalid,
			Text: fmt.Sprintf("The NHS number in the writeback (%s) is not valid: it must be 10 digits with a correct check digit.", strings.TrimSpace(n)),
			Fix:  "Check the NHS number with the patient or the record, correct it in the platform and send the outcome again, then reject this one."}
	}
	return nil
}
