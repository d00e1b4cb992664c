package sim_test

import (
	"net/url"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

func TestStateSurvivesARestart(t *testing.T) {
	h := newHarness(t)
	gp, receptionist := h.GP(), h.Receptionist()
	tok := h.signIn(gp)
	patient := h.registeredPatient()
	guid := "33333333-4444-4555-8666-777777777777"
	if r := h.call(fileRequest(tok.AccessToken, patient.PatientNumber, codedValue(guid))); r.status != 204 {
		t.Fatalf("FileRecord: %d", r.status)
	}
	h.SetUser(receptionist, emas.Change{AutoLogin: new(false)})

	h.Restart()

	lookup := apiRequest{path: pathConsultation, token: tok.AccessToken,
		query: url.Values{"patientNumber": {itoa(patient.PatientNumber)}, "consultationGuid": {guid}}}
	if r := h.call(lookup); r.status != 200 {
		t.Errorf("GetConsultation with the old access token: %d %s", r.status, r.body)
	}
	lookup.token = h.refresh(tok).AccessToken
	if r := h.call(lookup); r.status != 200 {
		t.Errorf("GetConsultation with a refreshed token: %d", r.status)
	}
	if r := h.call(fileRequest(tok.AccessToken, patient.PatientNumber, codedValue(guid))); r.outcome() != outcome.DuplicateConsultation {
		t.Errorf("refiling after the restart: %d %v", r.status, r.outcome())
	}
	u, err := h.Admin.User(t.Context(), receptionist.Username)
	if err != nil {
		t.Fatal(err)
	}
	if u.AutoLogin {
		t.Error("the EMAS Manager change was lost")
	}
}
