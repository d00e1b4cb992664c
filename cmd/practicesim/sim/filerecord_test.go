package sim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

func TestEachPermittedFilingIsStoredUnderTheCallersGUID(t *testing.T) {
	h := newHarness(t)
	gp := h.GP()
	token := h.signIn(gp).AccessToken
	patient := h.registeredPatient()
	filings := []struct {
		name string
		guid string
		body emisopen.MedicalRecord
		pfs  bool
	}{
		{"text comment", "A1B2C3D4-0000-4000-8000-000000000001", textComment("A1B2C3D4-0000-4000-8000-000000000001"), false},
		{"coded value", "a1b2c3d4-0000-4000-8000-000000000002", codedValue("a1b2c3d4-0000-4000-8000-000000000002"), true},
		{"attachment", "a1b2c3d4-0000-4000-8000-000000000003", attachment("a1b2c3d4-0000-4000-8000-000000000003"), false},
	}
	for _, f := range filings {
		t.Run(f.name, func(t *testing.T) {
			if r := h.call(fileRequest(token, patient.PatientNumber, f.body)); r.status != http.StatusNoContent {
				t.Fatalf("FileRecord: %d %s", r.status, r.body)
			}
			var rec emisopen.MedicalRecord
			h.call(apiRequest{path: pathConsultation, token: token,
				query: url.Values{"patientNumber": {itoa(patient.PatientNumber)}, "consultationGuid": {strings.ToLower(f.guid)}},
			}).decode(t, &rec)
			if len(rec.ConsultationList) != 1 {
				t.Fatalf("GetConsultation: %+v", rec)
			}
			c := rec.ConsultationList[0]
			if c.GUID != f.guid || c.DBID == "" || c.PfsVisible != f.pfs || !c.PfsVisibleSpecified {
				t.Errorf("consultation = %+v", c)
			}
			if c.UserID == nil || c.UserID.DBID != itoa(gp.UserInRoleID) || c.AssignedDate == "" {
				t.Errorf("consultation not stamped with its author and date: %+v", c)
			}
			if len(rec.EventList)+len(rec.AttachmentList) != 1 {
				t.Errorf("items = %+v %+v", rec.EventList, rec.AttachmentList)
			}
			for _, a := range rec.AttachmentList {
				if a.AttachmentData != "" || a.Title != "transcript.pdf" {
					t.Errorf("attachment = %+v; content belongs to GetBase64AttachmentData", a)
				}
			}
		})
	}
	var full emisopen.MedicalRecord
	h.call(apiRequest{path: pathMedicalRecord, query: patientQuery(patient.PatientNumber), token: token}).decode(t, &full)
	if len(full.ConsultationList) != 3 || len(full.EventList) != 2 || len(full.AttachmentList) != 1 || full.Registration == nil {
		t.Errorf("GetMedicalRecord: %d consultations, %d events, %d attachments",
			len(full.ConsultationList), len(full.EventList), len(full.AttachmentList))
	}
	filed := h.Consultations()
	if len(filed) != 3 || filed[0].PatientNumber != patient.PatientNumber || filed[0].GUID != filings[0].guid {
		t.Errorf("admin consultations = %+v", filed)
	}
	if filed[2].Record.AttachmentList[0].AttachmentData == "" {
		t.Error("the admin API should show the attachment's content")
	}
}

func TestFileRecordRefusesWhatIsNotPermitted(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	patient := h.registeredPatient()
	otherUser := h.Receptionist()
	g := &guids{}
	// edit returns a text comment filing changed by f, as raw JSON so that
	// cases can add properties the Go types do not have.
	edit := func(f func(m map[string]any)) map[string]any {
		data, _ := json.Marshal(textComment(g.next()))
		var m map[string]any
		json.Unmarshal(data, &m)
		f(m)
		return m
	}
	consultation := func(m map[string]any) map[string]any { return m["consultationList"].([]any)[0].(map[string]any) }
	event := func(m map[string]any) map[string]any { return m["eventList"].([]any)[0].(map[string]any) }
	tests := []struct {
		name string
		body map[string]any
		want outcome.Code
	}{
		{"a medication", edit(func(m map[string]any) { m["medicationList"] = []any{map[string]any{"guid": g.next()}} }), outcome.FilingNotPermitted},
		{"a registration change", edit(func(m map[string]any) { m["registration"] = map[string]any{"familyName": "X"} }), outcome.FilingNotPermitted},
		{"two consultations", edit(func(m map[string]any) {
			m["consultationList"] = append(m["consultationList"].([]any), consultation(m))
		}), outcome.FilingNotPermitted},
		{"no consultation", edit(func(m map[string]any) { delete(m, "consultationList") }), outcome.FilingNotPermitted},
		{"no GUID", edit(func(m map[string]any) { delete(consultation(m), "guid") }), outcome.MalformedRequest},
		{"GUID not a GUID", edit(func(m map[string]any) { consultation(m)["guid"] = "123" }), outcome.MalformedRequest},
		{"an amendment", edit(func(m map[string]any) { consultation(m)["oldGUID"] = g.next() }), outcome.FilingNotPermitted},
		{"online visibility not chosen", edit(func(m map[string]any) { consultation(m)["pfsVisibleSpecified"] = false }), outcome.MalformedRequest},
		{"someone else's consultation", edit(func(m map[string]any) {
			consultation(m)["userID"] = map[string]any{"dbid": itoa(otherUser.UserInRoleID)}
		}), outcome.FilingNotPermitted},
		{"no elements", edit(func(m map[string]any) { delete(consultation(m), "elementList") }), outcome.FilingNotPermitted},
		{"element pointing nowhere", edit(func(m map[string]any) {
			consultation(m)["elementList"] = []any{map[string]any{"item": map[string]any{"refID": "nope"}}}
		}), outcome.FilingNotPermitted},
		{"event outside the consultation", edit(func(m map[string]any) {
			m["eventList"] = append(m["eventList"].([]any), map[string]any{"refID": "2", "descriptiveText": "stray"})
		}), outcome.FilingNotPermitted},
		{"event neither coded nor text", edit(func(m map[string]any) { delete(event(m), "descriptiveText") }), outcome.FilingNotPermitted},
		{"SNOMED code not a concept ID", edit(func(m map[string]any) {
			event(m)["code"] = map[string]any{"value": "ABC", "scheme": 8, "schemeSpecified": true}
		}), outcome.MalformedRequest},
		{"date in the wrong form", edit(func(m map[string]any) { consultation(m)["assignedDate"] = "2025-06-01" }), outcome.MalformedRequest},
		{"attachment without content", edit(func(m map[string]any) {
			delete(m, "eventList")
			m["attachmentList"] = []any{map[string]any{"refID": "1", "title": "x.pdf"}}
		}), outcome.MalformedRequest},
		{"patientID of another patient", edit(func(m map[string]any) { m["patientID"] = "1" }), outcome.MalformedRequest},
		{"items sharing a refID", edit(func(m map[string]any) {
			m["eventList"] = append(m["eventList"].([]any), event(m))
		}), outcome.MalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.call(fileRequest(token, patient.PatientNumber, tt.body))
			if r.status != 400 || r.outcome() != tt.want {
				t.Errorf("status %d, outcome %v; want 400 %v: %s", r.status, r.outcome(), tt.want, r.body)
			}
		})
	}
	if filed := h.Consultations(); len(filed) != 0 {
		t.Errorf("%d refused filings were stored", len(filed))
	}
}

func TestFileRecordAcceptsContextAndUnusedProperties(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	body := map[string]any{
		"consultationList": []any{map[string]any{
			"guid": "c0ffee00-1111-4222-8333-444455556666", "pfsVisible": true, "pfsVisibleSpecified": true,
			"elementList": []any{map[string]any{"item": map[string]any{"refID": "e"}, "displayOrder": 1, "displayOrderSpecified": true}},
		}},
		"eventList": []any{map[string]any{
			"refID": "e", "descriptiveText": "Blood pressure reading supplied by the patient",
			"code":         map[string]any{"value": "75367002", "scheme": 8, "schemeSpecified": true, "term": "Blood pressure"},
			"numericValue": map[string]any{"value": 128.5, "valueSpecified": true, "units": "mmHg"},
		}},
		"originator":     map[string]any{"system": map[string]any{"name": "Writeback Agent", "version": "1.0"}},
		"allergyList":    []any{},
		"medicationList": nil,
		"patientID":      itoa(h.registeredPatient().PatientNumber),
	}
	if r := h.call(fileRequest(token, h.registeredPatient().PatientNumber, body)); r.status != http.StatusNoContent {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var rec emisopen.MedicalRecord
	h.call(apiRequest{path: pathConsultation, token: token, query: url.Values{
		"patientNumber": {itoa(h.registeredPatient().PatientNumber)}, "consultationGuid": {"c0ffee00-1111-4222-8333-444455556666"},
	}}).decode(t, &rec)
	if len(rec.EventList) != 1 || !strings.Contains(string(rec.EventList[0].NumericValue), "mmHg") {
		t.Errorf("numeric value not kept: %+v", rec.EventList)
	}
}
