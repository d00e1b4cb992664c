package adminclient_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

func TestReadsAndChangesTheSettings(t *testing.T) {
	p := simtest.Start(t)
	c := adminclient.New(p.URL, nil)
	ctx := t.Context()

	info, err := c.Info(ctx)
	if err != nil || info.ApplicationID != sim.ApplicationID || info.ODSCode != p.Fixtures().ODSCode {
		t.Errorf("Info = %+v, %v", info, err)
	}

	if active, err := c.ApplicationActive(ctx); err != nil || !active {
		t.Errorf("ApplicationActive = %t, %v; want a new practice's application active", active, err)
	}
	if active, err := c.SetApplicationActive(ctx, false); err != nil || active {
		t.Errorf("SetApplicationActive(false) = %t, %v", active, err)
	}
	if active, err := c.ApplicationActive(ctx); err != nil || active {
		t.Errorf("ApplicationActive after deactivating = %t, %v", active, err)
	}

	users, err := c.Users(ctx)
	if err != nil || len(users) != len(p.Fixtures().Staff) {
		t.Fatalf("Users: %d, %v", len(users), err)
	}
	gp := p.GP()
	byID, err := c.User(ctx, adminclient.UserID(gp.UserInRoleID))
	if err != nil || byID.UserID != gp.UserInRoleID || byID.Username != gp.Username || byID.Role != gp.Role || !byID.AllowLogin {
		t.Errorf("User(%d) = %+v, %v", gp.UserInRoleID, byID, err)
	}
	if byName, err := c.User(ctx, gp.Username); err != nil || byName != byID {
		t.Errorf("User(%s) = %+v, %v; want %+v", gp.Username, byName, err, byID)
	}
	changed, err := c.UpdateUser(ctx, adminclient.UserID(gp.UserInRoleID), emas.Change{AllowLogin: new(false)})
	want := byID
	want.AllowLogin = false
	if err != nil || changed != want {
		t.Errorf("UpdateUser = %+v, %v; want only Allow Login cleared: %+v", changed, err, want)
	}

	patients, err := c.Patients(ctx)
	if err != nil || len(patients) != fixtures.PatientCount || patients[0].PatientNumber != p.Fixtures().Patients[0].PatientNumber {
		t.Errorf("Patients: %d, %v", len(patients), err)
	}

	if filed, err := c.Consultations(ctx); err != nil || len(filed) != 0 {
		t.Errorf("Consultations of a new practice = %+v, %v", filed, err)
	}

	if s, err := c.Faults(ctx); err != nil || s != (faults.Settings{}) {
		t.Errorf("Faults of a new practice = %+v, %v", s, err)
	}
	set := faults.Settings{LatencyMs: 3, ErrorRate: 0.25, TimeoutAfterCommitRate: 0.5, IgnoreConsultationGUID: true}
	if s, err := c.SetFaults(ctx, set); err != nil || s != set {
		t.Errorf("SetFaults = %+v, %v", s, err)
	}
	if s, err := c.Faults(ctx); err != nil || s != set {
		t.Errorf("Faults after SetFaults = %+v, %v", s, err)
	}
}

func TestRefusalsAreErrorsWithTheStatus(t *testing.T) {
	p := simtest.Start(t)
	c := adminclient.New(p.URL, nil)
	ctx := t.Context()
	gp := adminclient.UserID(p.GP().UserInRoleID)
	tests := []struct {
		name    string
		call    func() error
		status  int
		message string
	}{
		{"unknown user", func() error { _, err := c.UpdateUser(ctx, "nobody", emas.Change{}); return err }, http.StatusNotFound, "no such user"},
		{"empty role", func() error { _, err := c.UpdateUser(ctx, gp, emas.Change{Role: new(emas.Role(""))}); return err },
			http.StatusBadRequest, "role must not be empty"},
		{"rate out of range", func() error { _, err := c.SetFaults(ctx, faults.Settings{ErrorRate: 2}); return err },
			http.StatusBadRequest, "faults: errorRate must be between 0 and 1"},
		{"no such route", func() error { return c.Do(ctx, http.MethodGet, "/admin/nothing-here", nil, nil) }, http.StatusNotFound, "no such admin resource"},
	}
	for _, tt := range tests {
		err := tt.call()
		var e *adminclient.Error
		if !errors.As(err, &e) || e.Status != tt.status || e.Message != tt.message {
			t.Errorf("%s: %v; want status %d and %q", tt.name, err, tt.status, tt.message)
		}
		if got := adminclient.StatusCode(err); got != tt.status {
			t.Errorf("%s: StatusCode = %d, want %d", tt.name, got, tt.status)
		}
	}
	if got := adminclient.StatusCode(nil); got != http.StatusOK {
		t.Errorf("StatusCode(nil) = %d", got)
	}
	p.Close()
	_, err := c.Users(ctx)
	if err == nil || adminclient.StatusCode(err) != 0 {
		t.Errorf("with the simulator stopped: %v (status %d); want an error without a status", err, adminclient.StatusCode(err))
	}
}

// TestDecodesEveryAnswerWithoutLoss serves the admin API's recorded answers (the golden
// files of package admin) and checks that each method decodes them into the server's types
// and that those encode them again to the byte: the client sees every field the server sends.
func TestDecodesEveryAnswerWithoutLoss(t *testing.T) {
	tests := []struct {
		golden string
		call   func(c *adminclient.Client) (any, error)
	}{
		{"info", func(c *adminclient.Client) (any, error) { return c.Info(t.Context()) }},
		{"users", func(c *adminclient.Client) (any, error) { return c.Users(t.Context()) }},
		{"user", func(c *adminclient.Client) (any, error) { return c.User(t.Context(), "jbloggs") }},
		{"user-set", func(c *adminclient.Client) (any, error) {
			return c.UpdateUser(t.Context(), "jbloggs", emas.Change{AllowLogin: new(false), Role: new(emas.RoleReceptionist)})
		}},
		{"patients", func(c *adminclient.Client) (any, error) { return c.Patients(t.Context()) }},
		{"consultations", func(c *adminclient.Client) (any, error) { return c.Consultations(t.Context()) }},
		{"faults", func(c *adminclient.Client) (any, error) { return c.Faults(t.Context()) }},
		{"faults-set", func(c *adminclient.Client) (any, error) {
			return c.SetFaults(t.Context(), faults.Settings{LatencyMs: 5, ErrorRate: 0.25, TimeoutAfterCommitRate: 0.5})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "admin", "testdata", tt.golden+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			_, body, ok := bytes.Cut(data, []byte("\n\n"))
			if !ok {
				t.Fatalf("%s.golden has no body", tt.golden)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.Write(body)
			}))
			defer srv.Close()
			got, err := tt.call(adminclient.New(srv.URL, nil))
			if err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			enc := json.NewEncoder(&again)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), body) {
				t.Errorf("decoded and encoded again:\n%s\nthe server sent:\n%s", again.Bytes(), body)
			}
		})
	}
}
