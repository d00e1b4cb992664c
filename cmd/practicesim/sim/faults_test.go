package sim_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

func TestLatencyDelaysEveryCall(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	h.SetFaults(faults.Settings{LatencyMs: 150})
	start := time.Now()
	if r := h.call(apiRequest{path: pathOrganisation, token: token}); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("call took %v with 150 ms latency injected", d)
	}
}

func TestErrorRateFailsCallsWithoutDoingAnything(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	h.SetFaults(faults.Settings{ErrorRate: 1})
	r := h.call(fileRequest(token, h.registeredPatient().PatientNumber, textComment("11111111-2222-4333-8444-555555555555")))
	if r.status != 500 || r.outcome() != outcome.InternalError {
		t.Errorf("status %d, outcome %v", r.status, r.outcome())
	}
	if filed := h.Consultations(); len(filed) != 0 {
		t.Error("a failed call filed a consultation")
	}
}

// A filing whose answer is lost must be found by GUID before it is sent
// again, or the second attempt is refused as a duplicate.
func TestTimeoutAfterCommitLeavesAnAmbiguousOutcome(t *testing.T) {
	h := newHarness(t)
	token := h.signIn(h.GP()).AccessToken
	patient := h.registeredPatient()
	guid := "22222222-3333-4444-8555-666666666666"
	h.SetFaults(faults.Settings{TimeoutAfterCommitRate: 1})
	if _, err := h.send(fileRequest(token, patient.PatientNumber, textComment(guid))); err == nil {
		t.Fatal("the filing was answered; want the connection dropped")
	}
	h.SetFaults(faults.Settings{})
	filed := h.Consultations()
	if len(filed) != 1 || filed[0].GUID != guid {
		t.Fatalf("filed = %+v; the consultation should have been committed", filed)
	}
	lookup := h.call(apiRequest{path: pathConsultation, token: token,
		query: url.Values{"patientNumber": {itoa(patient.PatientNumber)}, "consultationGuid": {guid}}})
	if lookup.status != 200 {
		t.Errorf("GetConsultation after the timeout: %d", lookup.status)
	}
	retry := h.call(fileRequest(token, patient.PatientNumber, textComment(guid)))
	if retry.status != 400 || retry.outcome() != outcome.DuplicateConsultation {
		t.Errorf("blind retry: %d %v", retry.status, retry.outcome())
	}
}

func TestFaultSettingsAreValidated(t *testing.T) {
	h := newHarness(t)
	for _, body := range []map[string]any{
		{"errorRate": 2},
		{"timeoutAfterCommitRate": -1},
		{"latencyMs": -5},
		{"errorRate": 0.5, "surprise": true},
	} {
		if status := adminclient.StatusCode(h.Admin.Do(t.Context(), "POST", "/admin/faults", body, nil)); status != http.StatusBadRequest {
			t.Errorf("POST /admin/faults %v: status %d", body, status)
		}
	}
}
