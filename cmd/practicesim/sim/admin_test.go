package sim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

type adminUser struct {
	UserID     int32  `json:"userId"`
	Username   string `json:"username"`
	Password   string `json:"password"`
	Name       string `json:"name"`
	Locum      bool   `json:"locum"`
	Enabled    bool   `json:"enabled"`
	AllowLogin bool   `json:"allowLogin"`
	AutoLogin  bool   `json:"autoLogin"`
	Active     bool   `json:"active"`
	Role       string `json:"role"`
}

type adminPatient struct {
	PatientNumber int32  `json:"patientNumber"`
	NHSNumber     string `json:"nhsNumber"`
	FamilyName    string `json:"familyName"`
	GivenNames    string `json:"givenNames"`
	DateOfBirth   string `json:"dateOfBirth"`
	Sex           string `json:"sex"`
	Deceased      bool   `json:"deceased"`
	Registered    bool   `json:"registered"`
}

func TestAdminUsers(t *testing.T) {
	h := newHarness(t)
	var users []adminUser
	if status := h.admin("GET", "/admin/users", nil, &users); status != 200 || len(users) != len(h.practice().Staff) {
		t.Fatalf("GET /admin/users: %d, %d users", status, len(users))
	}
	gp := h.gp()
	var u adminUser
	h.admin("GET", "/admin/users/"+itoa(gp.UserInRoleID), nil, &u)
	if u.Username != gp.Username || u.Password != gp.Password || !u.Enabled || !u.AllowLogin || !u.AutoLogin || !u.Active || u.Role != string(gp.Role) {
		t.Errorf("user = %+v", u)
	}
	var changed adminUser
	if status := h.admin("POST", "/admin/users/"+gp.Username, map[string]any{"autoLogin": false, "role": "Admin and Clerical Access Role"}, &changed); status != 200 {
		t.Fatalf("POST: status %d", status)
	}
	if changed.AutoLogin || changed.Role != "Admin and Clerical Access Role" || !changed.AllowLogin {
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
		if status := h.admin("POST", tc.path, tc.body, nil); status != tc.status {
			t.Errorf("POST %s %v: status %d, want %d", tc.path, tc.body, status, tc.status)
		}
	}
}

func TestAdminApplication(t *testing.T) {
	h := newHarness(t)
	var app struct {
		Active bool `json:"active"`
	}
	h.admin("GET", "/admin/application", nil, &app)
	if !app.Active {
		t.Error("a new practice has the application deactivated")
	}
	h.admin("POST", "/admin/application", map[string]bool{"active": false}, &app)
	if app.Active {
		t.Error("deactivation not reported")
	}
}

func TestAdminPatients(t *testing.T) {
	h := newHarness(t)
	var patients []adminPatient
	h.admin("GET", "/admin/patients", nil, &patients)
	if len(patients) != fixtures.PatientCount {
		t.Fatalf("%d patients", len(patients))
	}
	first, want := patients[0], h.practice().Patients[0]
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
	var info struct {
		ApplicationID string `json:"applicationId"`
	}
	h.admin("GET", "/admin/info", nil, &info)
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
		resp, err := http.Get(h.base + tc.path)
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
