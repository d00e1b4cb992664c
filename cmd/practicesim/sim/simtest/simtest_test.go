package simtest_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

// organisation calls GetOrganisation with a token (none if empty) and the applicationId
// header (none if empty) through the practice's checked transport, and returns the status.
func organisation(t *testing.T, p *simtest.Practice, token, appID string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.URL+"/api/v1/organisation/GetOrganisation", nil)
	if err != nil {
		t.Fatal(err)
	}
	if appID != "" {
		req.Header.Set("applicationId", appID)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func signIn(t *testing.T, p *simtest.Practice, s fixtures.Staff) string {
	t.Helper()
	cfg := &oauth2.Config{ClientID: idp.DesktopClientID, Scopes: []string{"openid", "papi-config.read"},
		Endpoint: oauth2.Endpoint{TokenURL: p.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := cfg.PasswordCredentialsToken(t.Context(), s.Username, s.Password)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestStartServesThePractice(t *testing.T) {
	p := simtest.Start(t)
	if p.Sim().URL() != p.URL {
		t.Errorf("URL %q, the simulator's %q", p.URL, p.Sim().URL())
	}
	if status := organisation(t, p, signIn(t, p, p.GP()), sim.ApplicationID); status != http.StatusOK {
		t.Errorf("GetOrganisation: %d", status)
	}
	if gp := p.GP(); !gp.JobCategory.Doctor || gp.Locum {
		t.Errorf("GP() = %+v", gp)
	}
	if r := p.Receptionist(); r.JobCategory != fixtures.Receptionist {
		t.Errorf("Receptionist() = %+v", r)
	}
	filers := p.Filers()
	if len(filers) == 0 {
		t.Error("no staff who may file")
	}
	for _, s := range filers {
		if !s.Role.CanFile() {
			t.Errorf("Filers() holds %s, whose role cannot file", s.Username)
		}
	}
	plain := p.PlainPatients()
	if len(plain) == 0 || len(plain) >= len(p.Fixtures().Patients) {
		t.Errorf("%d plain patients of %d", len(plain), len(p.Fixtures().Patients))
	}
	for _, pt := range plain {
		if pt.NHSNumber == "" || !pt.Registered || pt.Deceased {
			t.Errorf("PlainPatients() holds %+v", pt)
		}
	}
	if pt := p.Patient(fixtures.FirstPatientNumber); pt.PatientNumber != fixtures.FirstPatientNumber {
		t.Errorf("Patient(%d) = %+v", fixtures.FirstPatientNumber, pt)
	}
}

func TestTheClockExpiresTokens(t *testing.T) {
	p := simtest.Start(t, simtest.TokenLifetime(time.Minute))
	token := signIn(t, p, p.GP())
	if status := organisation(t, p, token, sim.ApplicationID); status != http.StatusOK {
		t.Fatalf("GetOrganisation: %d", status)
	}
	p.Clock.Advance(2 * time.Minute)
	if status := organisation(t, p, token, sim.ApplicationID); status != http.StatusUnauthorized {
		t.Errorf("GetOrganisation once the token has expired: %d", status)
	}
}

func TestSettersChangeThePractice(t *testing.T) {
	p := simtest.Start(t)
	gp := p.GP()
	token := signIn(t, p, gp)
	if u := p.SetUser(gp, emas.Change{AllowLogin: new(false)}); u.AllowLogin || !u.AutoLogin {
		t.Errorf("SetUser = %+v", u)
	}
	if status := organisation(t, p, token, sim.ApplicationID); status != http.StatusUnauthorized {
		t.Errorf("GetOrganisation with Allow Login cleared: %d", status)
	}
	p.SetApplicationActive(false)
	if active, err := p.Admin.ApplicationActive(t.Context()); err != nil || active {
		t.Errorf("after SetApplicationActive(false): %t, %v", active, err)
	}
	p.SetFaults(faults.Settings{ErrorRate: 1})
	if s, err := p.Admin.Faults(t.Context()); err != nil || s.ErrorRate != 1 {
		t.Errorf("after SetFaults: %+v, %v", s, err)
	}
	if filed := p.Consultations(); len(filed) != 0 {
		t.Errorf("%d consultations in a new practice", len(filed))
	}
}

func TestRestartKeepsTheStateDirAndAddress(t *testing.T) {
	p := simtest.Start(t, simtest.StateDir(t.TempDir()))
	gp, url := p.GP(), p.URL
	p.SetUser(gp, emas.Change{AutoLogin: new(false)})
	p.Restart()
	if p.URL != url || p.Sim().URL() != url {
		t.Errorf("restarted at %s (%s), want %s", p.URL, p.Sim().URL(), url)
	}
	u, err := p.Admin.User(t.Context(), gp.Username)
	if err != nil || u.AutoLogin {
		t.Errorf("after the restart: %+v, %v; want Auto Login still cleared", u, err)
	}
}

// recorder is a test whose errors are recorded instead of failing it.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestContractViolationsFailTheTest(t *testing.T) {
	tests := []struct {
		name   string
		expect bool // ExpectInvalidRequests
		want   int  // errors at the end of the test
	}{
		{"a request off the contract", false, 1},
		{"a request off the contract, sent on purpose", true, 0},
	}
	for _, tt := range tests {
		rec := &recorder{}
		t.Run(tt.name, func(t *testing.T) {
			rec.TB = t
			p := simtest.Start(rec)
			if tt.expect {
				p.ExpectInvalidRequests()
			}
			organisation(t, p, signIn(t, p, p.GP()), "") // no applicationId header: a request violation
		})
		if len(rec.errors) != tt.want {
			t.Errorf("%s: errors %q, want %d", tt.name, rec.errors, tt.want)
		}
	}
}
