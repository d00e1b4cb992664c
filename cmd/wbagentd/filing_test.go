package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
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
		RefreshToken: signed.Token.RefreshToken, TokenType: signed.Token.TokenType, Expiry: signed.Token.Expiry, IDToken: signed.IDToken}); err != nil {
		t.Fatal(err)
	}
	patient := plainPatient(t, stack)
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
	consultations, err := adminclient.New(stack.SimURL, nil).Consultations(ctx)
	if err != nil {
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

// plainPatient returns the simulated practice's first patient with an NHS number, alive and
// registered.
func plainPatient(t *testing.T, stack *servicetest.Stack) fixtures.Patient {
	t.Helper()
	patients := simtest.PlainPatients(stack.Sim.Practice())
	if len(patients) == 0 {
		t.Fatal("no patient to file for")
	}
	return patients[0]
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
