package sim_test

import (
	"net/url"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

func TestGetMatchedPatients(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	p := h.Fixtures()
	hc := p.HardCases
	twin, _ := p.Patient(hc.SameNameAndDOB[0])
	deceased, _ := p.Patient(hc.Deceased[0])
	named := func(name string) *fixtures.Patient {
		for i, pt := range p.Patients {
			if pt.FamilyName == name || pt.GivenNames == name {
				return &p.Patients[i]
			}
		}
		t.Fatalf("no patient named %s", name)
		return nil
	}
	obrien, zoe := named("O'Brien"), named("Zoë")
	dob := func(pt *fixtures.Patient) string { return pt.DateOfBirth.Format(emisopen.DateLayout) }
	first := p.Patients[0]

	tests := []struct {
		name     string
		terms    string
		want     []int32 // patients that must be found
		wantOnly bool    // and no others
		notFound []int32 // patients that must not be found
	}{
		{"NHS number", first.NHSNumber, []int32{first.PatientNumber}, true, nil},
		{"name and date of birth finds both namesakes", dob(twin) + " " + twin.GivenNames + " " + twin.FamilyName, hc.SameNameAndDOB[:], true, nil},
		{"ISO date of birth", twin.DateOfBirth.Format("2006-01-02") + " " + twin.FamilyName, hc.SameNameAndDOB[:], true, nil},
		{"apostrophe", "O'Brien " + dob(obrien), []int32{obrien.PatientNumber}, false, nil},
		{"accent", "zoë " + dob(zoe), []int32{zoe.PatientNumber}, false, nil},
		{"case", "o'BRIEN " + dob(obrien), []int32{obrien.PatientNumber}, false, nil},
		{"deceased patients are found", deceased.NHSNumber, []int32{deceased.PatientNumber}, true, nil},
		{"accent missing", "Zoe " + dob(zoe), nil, false, []int32{zoe.PatientNumber}},
		{"hyphenated name is one part", "Smith", nil, false, []int32{named("Smith-Jones").PatientNumber}},
		{"nobody", "9999999999", nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m emisopen.PatientMatches
			r := h.call(apiRequest{path: pathMatchedPatients, query: url.Values{"matchedTerms": {tt.terms}}, token: token})
			r.decode(t, &m)
			found := map[string]bool{}
			for _, pt := range m.PatientList {
				found[pt.DBID] = true
			}
			for _, n := range tt.want {
				if !found[itoa(n)] {
					t.Errorf("patient %d not found", n)
				}
			}
			if tt.wantOnly && len(found) != len(tt.want) {
				t.Errorf("found %d patients, want %d", len(found), len(tt.want))
			}
			for _, n := range tt.notFound {
				if found[itoa(n)] {
					t.Errorf("patient %d found", n)
				}
			}
		})
	}
	var m emisopen.PatientMatches
	h.call(apiRequest{path: pathMatchedPatients, query: url.Values{"matchedTerms": {deceased.NHSNumber}}, token: token}).decode(t, &m)
	if got := m.PatientList[0]; got.Dead == nil || *got.Dead != emisopen.Deceased || got.DateOfDeath == "" || got.CurrentStatus.Code.Term != "Deceased" {
		t.Errorf("deceased patient = %+v", got)
	}
	if r := h.call(apiRequest{path: pathMatchedPatients, query: url.Values{"matchedTerms": {"(Smith)"}}, token: token}); r.outcome() != outcome.MalformedRequest {
		t.Errorf("special characters: %d %v", r.status, r.outcome())
	}
}

func TestPatientsWithoutNHSNumberStillHaveRecords(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	n := h.Fixtures().HardCases.NoNHSNumber[0]
	var rec emisopen.MedicalRecord
	h.call(apiRequest{path: pathDemographics, query: patientQuery(n), token: token}).decode(t, &rec)
	if rec.Registration == nil || rec.Registration.NHSNumber != "" || rec.Registration.FamilyName == "" {
		t.Errorf("registration = %+v", rec.Registration)
	}
	if r := h.call(fileRequest(token, n, textComment("44444444-5555-4666-8777-888888888888"))); r.status != 204 {
		t.Errorf("filing for a patient without an NHS number: %d", r.status)
	}
}
