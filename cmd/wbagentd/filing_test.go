package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

// The service as shipped: a writeback queued through the local API is checked against the
// practice, waits for its clinician, and once confirmed is filed into the record once.
func TestServiceChecksAndFilesAConfirmedWriteback(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{Components: components()})
	ctx := t.Context()
	who := stack.Clinicians[0]
	signed := stack.SignIn(t, who)
	c := client.New(stack.Socket)
	if _, err := c.Link(ctx, apitype.LinkRequest{ClinicalUserID: signed.User.ID, AccessToken: signed.Token.AccessToken,
		RefreshToken: signed.Token.RefreshToken, TokenType: signed.Token.TokenType, Expiry: signed.Token.Expiry}); err != nil {
		t.Fatal(err)
	}
	var patient fixtures.Patient
	for _, p := range stack.Sim.Practice().Patients {
		if p.NHSNumber != "" && p.Registered && !p.Deceased {
			patient = p
			break
		}
	}
	doc := servicetest.Writeback(t, "job-service-e2e", who, func(w *writeback.Writeback) {
		w.PracticeODS = stack.Config.Practice.ODS
		w.Patient.NHSNumber = patient.NHSNumber
		w.Patient.FamilyName = patient.FamilyName
		w.Patient.GivenNames = patient.GivenNames
		w.Patient.DateOfBirth = patient.DateOfBirth.Format(time.DateOnly)
	})
	res, err := c.Enqueue(ctx, bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	rec := waitState(t, c, res.ID, "needs-confirmation")
	if _, err := c.Confirm(ctx, res.ID, false, rec.Version); err != nil {
		t.Fatal(err)
	}
	filed := waitState(t, c, res.ID, "filed")
	if filed.ConsultationGUID == "" {
		t.Fatalf("filed without a consultation GUID: %+v", filed)
	}
	resp, err := http.Get(stack.SimURL + "/admin/consultations")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var consultations []struct {
		PatientNumber int32  `json:"patientNumber"`
		GUID          string `json:"guid"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&consultations); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cons := range consultations {
		if cons.GUID == filed.ConsultationGUID {
			n++
			if cons.PatientNumber != patient.PatientNumber {
				t.Fatalf("filed to patient %d, want %d", cons.PatientNumber, patient.PatientNumber)
			}
		}
	}
	if n != 1 {
		t.Fatalf("consultation %s is in the record %d times", filed.ConsultationGUID, n)
	}
}

// waitState polls the record until it reaches state (the test's own wait, not the product's).
func waitState(t *testing.T, c *client.Client, id uint64, state string) *apitype.RecordDetail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := c.Record(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.State) == state {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %d is %s (reason %+v), want %s", id, r.State, r.Reason, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
