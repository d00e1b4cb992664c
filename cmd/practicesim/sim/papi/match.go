package papi

import (
	"strings"
	"time"
	"unicode"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

// dobLayouts are the date of birth forms a search term may take.
var dobLayouts = []string{emisopen.DateLayout, "2006-01-02", "02-01-2006", "02.01.2006"}

// getMatchedPatients finds the patients matching every space-separated term
// of matchedTerms. A term matches a patient when it is:
//   - ten digits equal to the NHS number;
//   - a date (dd/mm/yyyy, yyyy-mm-dd, dd-mm-yyyy or dd.mm.yyyy) equal to the
//     date of birth;
//   - otherwise, equal, ignoring case but not accents, to the family name or
//     to one space-separated part of the given or family names (a hyphenated
//     name is one part: "Smith" does not find "Smith-Jones").
//
// Deceased and deregistered patients are found too; their registration
// status says what they are.
func (a *API) getMatchedPatients(c *call) (any, error) {
	terms := strings.Fields(c.r.URL.Query().Get("matchedTerms"))
	if len(terms) == 0 {
		return nil, outcome.Errorf(outcome.MalformedRequest, "matchedTerms is required")
	}
	for _, t := range terms {
		if !plainTerm(t) {
			return nil, outcome.Errorf(outcome.MalformedRequest, "matchedTerms must not contain parentheses or other special characters")
		}
	}
	result := emisopen.PatientMatches{PatientList: []emisopen.PatientMatch{}}
	var gps []int32
	for i := range a.cfg.Practice.Patients {
		p := &a.cfg.Practice.Patients[i]
		if matchesAll(p, terms) {
			result.PatientList = append(result.PatientList, a.patientMatch(p))
			gps = append(gps, p.UsualGP)
		}
	}
	result.PeopleList = a.people(gps...)
	return result, nil
}

// plainTerm allows letters, digits and the punctuation of names and dates.
func plainTerm(t string) bool {
	for _, r := range t {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("'’-/.", r) {
			return false
		}
	}
	return true
}

func matchesAll(p *fixtures.Patient, terms []string) bool {
	for _, t := range terms {
		if !matches(p, t) {
			return false
		}
	}
	return true
}

func matches(p *fixtures.Patient, term string) bool {
	if len(term) == 10 && strings.Trim(term, "0123456789") == "" {
		return p.NHSNumber == term
	}
	for _, layout := range dobLayouts {
		if d, err := time.Parse(layout, term); err == nil {
			return d.Equal(p.DateOfBirth)
		}
	}
	if strings.EqualFold(term, p.FamilyName) {
		return true
	}
	for _, part := range strings.Fields(p.GivenNames + " " + p.FamilyName) {
		if strings.EqualFold(term, part) {
			return true
		}
	}
	return false
}
