package sim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/admin"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/adminclient"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

func TestAdminUsers(t *testing.T) {
	h := newHarness(t)
	users, err := h.Admin.Users(t.Context())
	if err != nil || len(users) != len(h.Fixtures().Staff) {
		t.Fatalf("GET /admin/users: %v, %d users", err, len(users))
	}
	gp := h.GP()
	u, err := h.Admin.User(t.Context(), adminclient.UserID(gp.UserInRoleID))
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != gp.Username || u.Password != gp.Password || !u.Enabled || !u.AllowLogin || !u.AutoLogin || !u.Active || u.Role != gp.Role {
		t.Errorf("user = %+v", u)
	}
	// A partial body, with only the fields that change (the typed client sends null for
	// the others).
	var changed admin.User
	if err := h.Admin.Do(t.Context(), "POST", "/admin/users/"+gp.Username, map[string]any{"autoLogin": false, "role": "Admin and Clerical Access Role"}, &changed); err != nil {
		t.Fatalf("POST: %v", err)
	}
	if changed.AutoLogin || changed.Role != emas.RoleAdministrative || !changed.AllowLogin {
		t.Errorf("after a partial update: %+v", changed)
	}
	for _, tc := range []struct {
		path   string
		body   any
		status int
	}{
		{"/admin/users/nobody", map[string]any{"enabled": true}, http.StatusNotFound},
		{"/admin/users/" + gp.Username, map[string]any{"enabled": "yes"}, http.StatusBadRequest},
		{"/admin/users/" + gp.Username, map[string]any{"colour": "red"}, http.StatusBadRequest},
		{"/admin/users/" + gp.Username, map[string]any{"role": ""}, http.StatusBadRequest},
		{"/admin/application", map[string]any{}, http.StatusBadRequest},
	} {
		if status := adminclient.StatusCode(h.Admin.Do(t.Context(), "POST", tc.path, tc.body, nil)); status != tc.status {
			t.Errorf("POST %s %v: status %d, want %d", tc.path, tc.body, status, tc.status)
		}
	}
}

func TestAdminApplication(t *testing.T) {
	h := newHarness(t)
	active, err := h.Admin.ApplicationActive(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !active {
		t.Error("a new practice has the application deactivated")
	}
	if active, err = h.Admin.SetApplicationActive(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if active {
		t.Error("deactivation not reported")
	}
}

func TestAdminPatients(t *testing.T) {
	h := newHarness(t)
	patients, err := h.Admin.Patients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(patients) != fixtures.PatientCount {
		t.Fatalf("%d patients", len(patients))
	}
	first, want := patients[0], h.Fixtures().Patients[0]
	if first.PatientNumber != want.PatientNumber || first.NHSNumber != want.NHSNumber || first.DateOfBirth != want.DateOfBirth.Format("2006-01-02") ||
		first.FamilyName != want.FamilyName || first.GivenNames != want.GivenNames || first.Sex != want.Sex || !first.Registered || first.Deceased {
		t.Errorf("first patient = %+v", first)
	}
	var deceased, deregistered, noNHS int
	for _, p := range patients {
		switch {
		case p.Deceased:
			deceased++
		case !p.Registered:
			deregistered++
		}
		if p.NHSNumber == "" {
			noNHS++
		}
	}
	if deceased == 0 || deregistered == 0 || noNHS == 0 {
		t.Errorf("deceased %d, deregistered %d, without NHS number %d", deceased, deregistered, noNHS)
	}
}

func TestAdminPagesAndInfo(t *testing.T) {
	h := newHarness(t)
	info, err := h.Admin.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.ApplicationID != sim.ApplicationID {
		t.Errorf("info = %+v", info)
	}
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/admin", 200, "EMAS Manager"}, // redirected to /admin/
		{"/admin/", 200, "EMAS Manager"},
		{"/admin/nothing-here", 404, `"error"`},
	} {
		resp, err := http.Get(h.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d", tc.path, resp.StatusCode)
		}
	}
}
