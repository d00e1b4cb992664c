package sim_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

// TestEveryOperationHoldsToTheContract calls every simulated operation, with
// good requests and with each kind of bad one. The harness validates every
// request and response against the OpenAPI document.
func TestEveryOperationHoldsToTheContract(t *testing.T) {
	h := newHarness(t)
	h.ExpectInvalidRequests() // some cases send them on purpose
	token := h.signIn(h.GP()).AccessToken
	patient := h.registeredPatient()
	deregistered := h.Fixtures().HardCases.Deregistered[0]
	filed := "5e0c7a51-3b9d-4f2e-8a61-0d4c2b9e7f13"
	if r := h.call(fileRequest(token, patient.PatientNumber, textComment(filed))); r.status != http.StatusNoContent {
		t.Fatalf("setup filing: %d %s", r.status, r.body)
	}
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	pn := itoa(patient.PatientNumber)
	unknownGUID := "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name        string
		req         apiRequest
		wantStatus  int
		wantOutcome outcome.Code
	}{
		{"GetMatchedPatients", apiRequest{path: pathMatchedPatients, query: q("matchedTerms", patient.FamilyName), token: token}, 200, 0},
		{"GetMatchedPatients no terms", apiRequest{path: pathMatchedPatients, token: token}, 400, outcome.MalformedRequest},
		{"GetPatientDemographics", apiRequest{path: pathDemographics, query: q("patientNumber", pn), token: token}, 200, 0},
		{"GetPatientDemographics deregistered", apiRequest{path: pathDemographics, query: q("patientNumber", itoa(deregistered)), token: token}, 200, 0},
		{"GetPatientDemographics unknown patient", apiRequest{path: pathDemographics, query: q("patientNumber", "1"), token: token}, 404, outcome.PatientNotFound},
		{"GetMedicalRecord", apiRequest{path: pathMedicalRecord, query: q("patientNumber", pn), token: token}, 200, 0},
		{"GetMedicalRecord unknown patient", apiRequest{path: pathMedicalRecord, query: q("patientNumber", "1"), token: token}, 404, outcome.PatientNotFound},
		{"GetMedicalRecord patientNumber not a number", apiRequest{path: pathMedicalRecord, query: q("patientNumber", "abc"), token: token}, 400, outcome.MalformedRequest},
		{"GetConsultation", apiRequest{path: pathConsultation, query: q("patientNumber", pn, "consultationGuid", filed), token: token}, 200, 0},
		{"GetConsultation unknown GUID", apiRequest{path: pathConsultation, query: q("patientNumber", pn, "consultationGuid", unknownGUID), token: token}, 404, outcome.ConsultationNotFound},
		{"GetConsultation malformed GUID", apiRequest{path: pathConsultation, query: q("patientNumber", pn, "consultationGuid", "nope"), token: token}, 400, outcome.MalformedRequest},
		{"GetOrganisation", apiRequest{path: pathOrganisation, token: token}, 200, 0},
		{"GetUserById", apiRequest{path: pathUserByID, query: q("userInRoleId", itoa(h.GP().UserInRoleID)), token: token}, 200, 0},
		{"GetUserById unknown user", apiRequest{path: pathUserByID, query: q("userInRoleId", "7"), token: token}, 404, outcome.UserNotFound},
		{"FileRecord", fileRequest(token, patient.PatientNumber, codedValue("9a3e6c1f-2b7d-4e8a-9f0c-1d2e3f4a5b6c")), 204, 0},
		{"FileRecord unknown patient", fileRequest(token, 1, textComment("1f2e3d4c-5b6a-4789-8abc-def012345678")), 404, outcome.PatientNotFound},
		{"FileRecord malformed body", fileRequest(token, patient.PatientNumber, `{"consultationList": [`), 400, outcome.MalformedRequest},
		{"FileRecord body not a MedicalRecord", fileRequest(token, patient.PatientNumber, `{"consultations": []}`), 400, outcome.MalformedRequest},
		{"FileRecord XML", withContentType(fileRequest(token, patient.PatientNumber, "<MedicalRecord/>"), "application/xml"), 415, outcome.UnsupportedMediaType},
		{"FileRecord plain text", withContentType(fileRequest(token, patient.PatientNumber, "hello"), "text/plain"), 415, outcome.UnsupportedMediaType},
		{"FileRecord deregistered patient", fileRequest(token, deregistered, textComment("2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7081")), 400, outcome.PatientNotRegistered},
		{"FileRecord GUID filed already", fileRequest(token, patient.PatientNumber, textComment(filed)), 400, outcome.DuplicateConsultation},
		{"FileRecord by GET", apiRequest{path: pathFileRecord, query: q("patientNumber", pn), token: token}, 405, outcome.MalformedRequest},
		{"no applicationId header", apiRequest{path: pathOrganisation, token: token, appID: "-"}, 400, outcome.MalformedRequest},
		{"unknown applicationId", apiRequest{path: pathOrganisation, token: token, appID: "someone-else"}, 401, outcome.ApplicationUnknown},
		{"no token", apiRequest{path: pathOrganisation}, 401, outcome.TokenInvalid},
		{"bad token", apiRequest{path: pathMedicalRecord, query: q("patientNumber", pn), token: "not.a.token"}, 401, outcome.TokenInvalid},
		{"bad token on FileRecord", fileRequest("not.a.token", patient.PatientNumber, textComment(filed)), 401, outcome.TokenInvalid},
		{"operation not simulated", apiRequest{path: "/api/v1/appointments/GetAppointmentSessions", token: token}, 404, outcome.OperationNotSimulated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call(tt.req)
			if r.status != tt.wantStatus || r.outcome() != tt.wantOutcome {
				t.Errorf("status %d, legacyOutcome %v; want %d, %v\n%s", r.status, r.outcome(), tt.wantStatus, tt.wantOutcome, r.body)
			}
		})
	}
	// And with a server fault injected, every operation answers 500.
	h.SetFaults(faults.Settings{ErrorRate: 1})
	for _, tt := range tests {
		if tt.wantStatus == http.StatusMethodNotAllowed || tt.wantOutcome == outcome.OperationNotSimulated {
			continue // answered before any operation runs
		}
		if r := h.call(tt.req); r.status != 500 || r.outcome() != outcome.InternalError {
			t.Errorf("%s under errorRate 1: status %d, outcome %v", tt.name, r.status, r.outcome())
		}
	}
}

func withContentType(r apiRequest, ct string) apiRequest {
	r.contentType = ct
	return r
}

func TestErrorResponsesExplainThemselves(t *testing.T) {
	h := newHarness(t)
	r := h.call(apiRequest{path: pathOrganisation, token: "bad"})
	var e emisopen.ErrorResponse
	r.decode(t, &e)
	if e.MessageID == "" || e.Issue == nil || e.Issue.Diagnostics == "" || e.Text == nil || e.Issue.Details.Coding.Display != "TokenInvalid" {
		t.Errorf("error response = %+v", e)
	}
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

func TestScopesAreEnforced(t *testing.T) {
	h := newHarness(t)
	tok := h.serviceToken("papi-config.read")
	if r := h.call(apiRequest{path: pathOrganisation, token: tok.AccessToken}); r.status != 200 {
		t.Errorf("GetOrganisation with papi-config.read: %d", r.status)
	}
	r := h.call(apiRequest{path: pathMedicalRecord, query: patientQuery(h.registeredPatient().PatientNumber), token: tok.AccessToken})
	if r.status != 401 || r.outcome() != outcome.InsufficientScope {
		t.Errorf("GetMedicalRecord without papi-cr.read: %d %v", r.status, r.outcome())
	}
}

func TestOrganisationAndUsers(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	var org emisopen.OrganisationInformation
	h.call(apiRequest{path: pathOrganisation, token: token}).decode(t, &org)
	p := h.Fixtures()
	if len(org.OrganisationList) != 1 || org.OrganisationList[0].NationalCode != p.ODSCode || org.OrganisationList[0].DBID != p.CDB {
		t.Errorf("organisation = %+v", org.OrganisationList)
	}
	if len(org.UserList) != len(p.Staff) {
		t.Errorf("%d users, want %d", len(org.UserList), len(p.Staff))
	}
	locum := h.Staff(func(s fixtures.Staff) bool { return s.Locum })
	var user emisopen.UserDetails
	h.call(apiRequest{path: pathUserByID, query: url.Values{"userInRoleId": {itoa(locum.UserInRoleID)}}, token: token}).decode(t, &user)
	if len(user.Person) != 1 || user.Person[0].LastName != locum.FamilyName || user.Person[0].Locum == nil || *user.Person[0].Locum != 1 {
		t.Errorf("user = %+v", user)
	}
}
