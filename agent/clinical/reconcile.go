package clinical

import "context"

// FilingFinder is implemented by a System that can find the consultation a filing made even
// when the system did not keep the GUID it was sent under. The filing engine uses it, when
// the System has it, instead of FindConsultation before filing again after an unknown
// outcome.
type FilingFinder interface {
	// FindFiling looks for the consultation f made in the patient's record: by its GUID,
	// then among the patient's consultations of f's date by f's author whose content is
	// f's (the same text, codes, values and attachment names). It returns an error of kind
	// ErrConsultationNotFound when there is none. It reads no attachment.
	FindFiling(ctx context.Context, f *Filing) (Consultation, error)
}
