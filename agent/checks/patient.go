package checks

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Patient picks, from the records the clinical system found for the writeback's NHS number,
// the one to file into. It fails unless exactly one record carries the NHS number, with the
// same family name and date of birth, of a patient who is alive and registered.
func Patient(want writeback.Patient, found []clinical.Patient) (clinical.Patient, *Failure) {
	nhs := normaliseNHSNumber(want.NHSNumber)
	var matches []clinical.Patient
	for _, p := range found {
		if normaliseNHSNumber(p.NHSNumber) == nhs {
			matches = append(matches, p)
		}
	}
	switch len(matches) {
	case 0:
		return clinical.Patient{}, &Failure{Code: CodePatientNotFound,
			Text: fmt.Sprintf("No patient record at the practice has the NHS number %s.", formatNHSNumber(nhs)),
			Fix:  "Check the NHS number and that the patient is registered at this practice; correct the writeback in the platform and send it again, or file it by hand."}
	case 1:
	default:
		return clinical.Patient{}, &Failure{Code: CodeSeveralPatientsMatch,
			Text: fmt.Sprintf("%d patient records have the NHS number %s.", len(matches), formatNHSNumber(nhs)),
			Fix:  "The records may be duplicates: ask whoever looks after data quality at the practice to resolve them, then choose Retry."}
	}
	p := matches[0]
	if normaliseName(want.FamilyName) != normaliseName(p.FamilyName) {
		return clinical.Patient{}, &Failure{Code: CodeSurnameMismatch,
			Text: fmt.Sprintf("The surname in the request (%s) does not match the record (%s): check the patient.", want.FamilyName, p.FamilyName),
			Fix:  "Make sure the writeback is for this patient. If the name is wrong in the platform, correct it and send the outcome again; if the record is out of date, update it, then choose Retry."}
	}
	if !sameDate(want.DateOfBirth, p.DateOfBirth) {
		return clinical.Patient{}, &Failure{Code: CodeDOBMismatch,
			Text: fmt.Sprintf("The date of birth in the request (%s) does not match the record (%s): check the patient.", ukDate(want.DateOfBirth), ukDate(p.DateOfBirth)),
			Fix:  "Make sure the writeback is for this patient. If the date is wrong in the platform, correct it and send the outcome again; if the record is wrong, correct it, then choose Retry."}
	}
	if p.Deceased {
		return clinical.Patient{}, &Failure{Code: CodePatientDeceased,
			Text: "The record says the patient has died; nothing is filed into a deceased patient's record.",
			Fix:  "Check the writeback is for this patient. Reject it, or file what is needed by hand."}
	}
	if !p.Registered {
		return clinical.Patient{}, &Failure{Code: CodePatientNotRegistered,
			Text: "The patient is no longer registered at this practice, so their record takes no filings.",
			Fix:  "Check the patient's registration. Reject the writeback, or send it to the practice the patient is registered with."}
	}
	return p, nil
}

// normaliseName returns a name in the form two spellings of the same name share: apostrophe
// and hyphen variants made plain, diacritics removed (Zoë → zoe, Núñez → nunez), in lower
// case, with surrounding spaces trimmed and inner runs of spaces made one. It changes nothing
// else: O'Neill and ONeil stay different.
func normaliseName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case strings.ContainsRune(apostrophes, r):
			return '\''
		case strings.ContainsRune(hyphens, r):
			return '-'
		}
		return r
	}, s)
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue // a combining mark: the diacritic of the letter before it
		}
		if folded, ok := letterFolds[r]; ok {
			b.WriteString(folded)
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// Apostrophe and hyphen variants that keyboards, phones and systems put into names. They are
// mapped before the compatibility decomposition, which would turn some (´) into a space and
// a combining mark.
const (
	apostrophes = "'’‘‛ʼʹʻ′´`＇"
	hyphens     = "-‐‑‒–—―−﹣－"
)

// letterFolds folds the letters whose diacritic Unicode does not decompose.
var letterFolds = map[rune]string{
	'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ħ': "h", 'Ħ': "h", 'ı': "i", 'ß': "ss",
}

// sameDate reports whether two YYYY-MM-DD dates are the same valid date.
func sameDate(a, b string) bool {
	da, errA := time.Parse(time.DateOnly, strings.TrimSpace(a))
	db, errB := time.Parse(time.DateOnly, strings.TrimSpace(b))
	return errA == nil && errB == nil && da.Equal(db)
}

// ukDate shows a YYYY-MM-DD date as staff read it (29/02/1980), or as given if it is not one.
func ukDate(s string) string {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Format("02/01/2006")
	}
	if s == "" {
		return "none"
	}
	return s
}

// formatNHSNumber groups a ten-digit NHS number as it is printed (943 476 5919).
func formatNHSNumber(n string) string {
	if len(n) != 10 {
		return n
	}
	return n[:3] + " " + n[3:6] + " " + n[6:]
}
