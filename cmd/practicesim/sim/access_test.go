package sim_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
)

// guids hands out distinct consultation GUIDs.
type guids struct{ n int }

func (g *guids) next() string {
	g.n++
	return fmt.Sprintf("7c0d3a6e-1b2f-4c5d-8e9f-%012d", g.n)
}

// fileAs files a text comment with token and returns the status and outcome.
func (h *harness) fileAs(token string, g *guids) (int, outcome.Code) {
	h.t.Helper()
	r := h.call(fileRequest(token, h.registeredPatient().PatientNumber, textComment(g.next())))
	return r.status, r.outcome()
}

func TestRemovedLoginAccessStopsFilingEvenAfterSigningInAgain(t *testing.T) {
	h := newHarness(t)
	g := &guids{}
	gp := h.GP()
	tok := h.signIn(gp)
	if status, _ := h.fileAs(tok.AccessToken, g); status != http.StatusNoContent {
		t.Fatalf("filing before the change: %d", status)
	}

	h.SetUser(gp, emas.Change{AllowLogin: new(false)})
	if status, out := h.fileAs(tok.AccessToken, g); status != 401 || out != outcome.LoginNotAllowed {
		t.Errorf("same session after Allow Login cleared: %d %v", status, out)
	}
	again := h.signIn(gp)
	if status, out := h.fileAs(again.AccessToken, g); status != 401 || out != outcome.LoginNotAllowed {
		t.Errorf("after signing in again: %d %v", status, out)
	}

	h.SetUser(gp, emas.Change{AllowLogin: new(true)})
	if status, out := h.fileAs(again.AccessToken, g); status != 401 || out != outcome.SessionPredatesAccessChange {
		t.Errorf("session from before Allow Login was ticked again: %d %v", status, out)
	}
	refreshed := h.refresh(again)
	if status, out := h.fileAs(refreshed.AccessToken, g); status != 401 || out != outcome.SessionPredatesAccessChange {
		t.Errorf("a refreshed token is the same session, yet: %d %v", status, out)
	}
	fresh := h.signIn(gp)
	if status, _ := h.fileAs(fresh.AccessToken, g); status != http.StatusNoContent {
		t.Errorf("after signing out and in: %d", status)
	}
}

func TestEachRevocationHasItsOwnOutcome(t *testing.T) {
	tests := []struct {
		name   string
		change emas.Change
		want   outcome.Code
	}{
		{"Edit Users cleared", emas.Change{Enabled: new(false)}, outcome.UserNotEnabled},
		{"Allow Login cleared", emas.Change{AllowLogin: new(false)}, outcome.LoginNotAllowed},
		{"Auto Login cleared", emas.Change{AutoLogin: new(false)}, outcome.AutoLoginNotAllowed},
		{"user disabled", emas.Change{Active: new(false)}, outcome.UserInactive},
		{"role that cannot file", emas.Change{Role: new(emas.RoleReceptionist)}, outcome.RoleCannotFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			gp := h.GP()
			tok := h.signIn(gp)
			h.SetUser(gp, tt.change)
			if status, out := h.fileAs(tok.AccessToken, &guids{}); status != 401 || out != tt.want {
				t.Errorf("filing: %d %v, want 401 %v", status, out, tt.want)
			}
		})
	}
}

func TestDeactivationBreaksSessionsUntilReactivation(t *testing.T) {
	h := newHarness(t)
	g := &guids{}
	tok := h.signIn(h.GP())
	service := h.serviceToken("papi-config.read")
	h.SetApplicationActive(false)
	if status, out := h.fileAs(tok.AccessToken, g); status != 401 || out != outcome.ApplicationNotActivated {
		t.Errorf("filing while deactivated: %d %v", status, out)
	}
	r := h.call(apiRequest{path: pathOrganisation, token: service.AccessToken})
	if r.status != 401 || r.outcome() != outcome.ApplicationNotActivated {
		t.Errorf("application token while deactivated: %d %v", r.status, r.outcome())
	}
	h.SetApplicationActive(true)
	if status, _ := h.fileAs(tok.AccessToken, g); status != http.StatusNoContent {
		t.Errorf("filing after reactivation: %d", status)
	}
	if r := h.call(apiRequest{path: pathOrganisation, token: service.AccessToken}); r.status != 200 {
		t.Errorf("application token after reactivation: %d", r.status)
	}
}

func TestExpiredTokensGet401(t *testing.T) {
	h := newHarness(t)
	g := &guids{}
	tok := h.signIn(h.GP())
	h.Clock.Advance(61 * time.Minute)
	if status, out := h.fileAs(tok.AccessToken, g); status != 401 || out != outcome.TokenExpired {
		t.Errorf("expired token: %d %v", status, out)
	}
	if status, _ := h.fileAs(h.refresh(tok).AccessToken, g); status != http.StatusNoContent {
		t.Errorf("after refreshing: %d", status)
	}
}

func TestReceptionistCanReadButNotFile(t *testing.T) {
	h := newHarness(t)
	tok := h.signIn(h.Receptionist())
	if r := h.call(apiRequest{path: pathDemographics, query: patientQuery(h.registeredPatient().PatientNumber), token: tok.AccessToken}); r.status != 200 {
		t.Errorf("reading: %d", r.status)
	}
	if status, out := h.fileAs(tok.AccessToken, &guids{}); status != 401 || out != outcome.RoleCannotFile {
		t.Errorf("filing: %d %v", status, out)
	}
}

func TestApplicationTokensCannotFile(t *testing.T) {
	h := newHarness(t)
	tok := h.serviceToken("papi-cr.write")
	if status, out := h.fileAs(tok.AccessToken, &guids{}); status != 401 || out != outcome.UserContextRequired {
		t.Errorf("filing with client credentials: %d %v", status, out)
	}
}

func TestDisabledUserCannotSignIn(t *testing.T) {
	h := newHarness(t)
	gp := h.GP()
	h.SetUser(gp, emas.Change{Active: new(false)})
	if _, err := h.desktopClient().PasswordCredentialsToken(context.Background(), gp.Username, gp.Password); err == nil {
		t.Error("a disabled user signed in")
	}
}
