// Package admin serves the simulator's control panel under /admin/: a JSON
// API (the contract tests outside this repository rely on) and a small page,
// both to change the practice's EMAS Manager settings at run time, to inject
// faults, and to see the fixtures and the filed consultations.
//
//	GET  /admin/                     the page
//	GET  /admin/info                 application ID, clients, scopes, token lifetime
//	GET  /admin/application          {"active": bool}
//	POST /admin/application          {"active": bool}
//	GET  /admin/users                the staff with their access settings
//	GET  /admin/users/{userId}       one of them ({userId}: user-in-role ID or username)
//	POST /admin/users/{userId}       any of {"enabled","allowLogin","autoLogin","active": bool, "role": string}
//	GET  /admin/patients             the patient fixtures
//	GET  /admin/consultations        every filed consultation
//	GET  /admin/faults               the fault settings
//	POST /admin/faults               {"latencyMs": n, "errorRate": 0..1, "timeoutAfterCommitRate": 0..1,
//	                                  "ignoreConsultationGuid": bool}
//
// The API has no authentication: the simulator listens on loopback only.
// Errors are answered as {"error": "…"} (ErrorResponse) with status 400 or 404.
//
// The bodies are Go types that the client, package adminclient, shares: Info,
// Application, User, Patient and ErrorResponse here, with emas.Change,
// faults.Settings and records.Consultation. Their JSON is a contract
// (docs/practicesim.md); the golden files under testdata hold it.
package admin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

// Info describes how to reach the simulated application; GET /admin/info
// returns it.
type Info struct {
	ApplicationID       string   `json:"applicationId"`
	DesktopClientID     string   `json:"desktopClientId"`
	ServiceClientID     string   `json:"serviceClientId"`
	ServiceClientSecret string   `json:"serviceClientSecret"`
	Scopes              []string `json:"scopes"`
	TokenLifetime       string   `json:"tokenLifetime"`
	PracticeName        string   `json:"practiceName"`
	ODSCode             string   `json:"odsCode"`
	CDB                 string   `json:"cdb"`
}

// Config wires the admin API to the simulator's state.
type Config struct {
	Info     Info
	Practice *fixtures.Practice
	Access   *emas.Manager
	Records  *records.Store
	Faults   *faults.Injector
	Logger   *slog.Logger
}

// Handler serves /admin/.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

//go:embed admin.html
var page []byte

// New returns the admin handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /admin/{$}", h.page)
	h.mux.HandleFunc("GET /admin/info", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, cfg.Info) })
	h.mux.HandleFunc("GET /admin/application", h.getApplication)
	h.mux.HandleFunc("POST /admin/application", h.setApplication)
	h.mux.HandleFunc("GET /admin/users", h.listUsers)
	h.mux.HandleFunc("GET /admin/users/{userId}", h.getUser)
	h.mux.HandleFunc("POST /admin/users/{userId}", h.updateUser)
	h.mux.HandleFunc("GET /admin/patients", h.listPatients)
	h.mux.HandleFunc("GET /admin/consultations", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, cfg.Records.All()) })
	h.mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, cfg.Faults.Settings()) })
	h.mux.HandleFunc("POST /admin/faults", h.setFaults)
	h.mux.HandleFunc("/admin/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin resource")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// Application is the body of GET and POST /admin/application: whether the
// application is activated in EMAS Manager. A POST must set Active.
type Application struct {
	Active *bool `json:"active"`
}

func (h *Handler) getApplication(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, Application{Active: ptr(h.cfg.Access.ApplicationActive())})
}

func (h *Handler) setApplication(w http.ResponseWriter, r *http.Request) {
	var req Application
	if err := decode(r, &req); err != nil || req.Active == nil {
		writeError(w, http.StatusBadRequest, `the body must be {"active": true|false}`)
		return
	}
	if err := h.cfg.Access.SetApplicationActive(*req.Active); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	h.cfg.Logger.Info("admin: application", "active", *req.Active)
	h.getApplication(w, r)
}

// User is a member of staff with their Partner API access settings, as the
// /admin/users routes give them.
type User struct {
	UserID      int32  `json:"userId"`
	Username    string `json:"username"`
	Password    string `json:"password"`
	Name        string `json:"name"`
	JobCategory string `json:"jobCategory"`
	Locum       bool   `json:"locum"`
	emas.Access
}

func (h *Handler) user(s *fixtures.Staff) User {
	access, _ := h.cfg.Access.Access(s.UserInRoleID)
	return User{
		UserID: s.UserInRoleID, Username: s.Username, Password: s.Password, Name: s.DisplayName(),
		JobCategory: s.JobCategory.Description, Locum: s.Locum, Access: access,
	}
}

func (h *Handler) listUsers(w http.ResponseWriter, _ *http.Request) {
	out := []User{}
	for i := range h.cfg.Practice.Staff {
		out = append(out, h.user(&h.cfg.Practice.Staff[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// staff finds a member of staff by user-in-role ID or username.
func (h *Handler) staff(r *http.Request) (*fixtures.Staff, bool) {
	key := r.PathValue("userId")
	if id, err := strconv.ParseInt(key, 10, 32); err == nil {
		return h.cfg.Practice.StaffMember(int32(id))
	}
	for i, s := range h.cfg.Practice.Staff {
		if strings.EqualFold(s.Username, key) {
			return &h.cfg.Practice.Staff[i], true
		}
	}
	return nil, false
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	s, ok := h.staff(r)
	if !ok {
		writeError(w, http.StatusNotFound, "no such user")
		return
	}
	writeJSON(w, http.StatusOK, h.user(s))
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) {
	s, ok := h.staff(r)
	if !ok {
		writeError(w, http.StatusNotFound, "no such user")
		return
	}
	var change emas.Change
	if err := decode(r, &change); err != nil {
		writeError(w, http.StatusBadRequest, `the body takes any of "enabled", "allowLogin", "autoLogin", "active" (booleans) and "role" (a string): `+err.Error())
		return
	}
	_, err := h.cfg.Access.Update(s.UserInRoleID, change)
	switch {
	case errors.Is(err, emas.ErrEmptyRole):
		writeError(w, http.StatusBadRequest, "role must not be empty")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	u := h.user(s)
	h.cfg.Logger.Info("admin: user access", "userId", u.UserID, "enabled", u.Enabled, "allowLogin", u.AllowLogin,
		"autoLogin", u.AutoLogin, "active", u.Active, "role", u.Role)
	writeJSON(w, http.StatusOK, u)
}

// Patient is a patient fixture as GET /admin/patients lists it.
type Patient struct {
	PatientNumber int32  `json:"patientNumber"`
	NHSNumber     string `json:"nhsNumber"` // empty when the record has none
	FamilyName    string `json:"familyName"`
	GivenNames    string `json:"givenNames"`
	DateOfBirth   string `json:"dateOfBirth"` // yyyy-mm-dd
	Sex           string `json:"sex"`
	Deceased      bool   `json:"deceased"`
	Registered    bool   `json:"registered"`
}

func (h *Handler) listPatients(w http.ResponseWriter, _ *http.Request) {
	out := make([]Patient, 0, len(h.cfg.Practice.Patients))
	for _, p := range h.cfg.Practice.Patients {
		out = append(out, Patient{
			PatientNumber: p.PatientNumber, NHSNumber: p.NHSNumber, FamilyName: p.FamilyName, GivenNames: p.GivenNames,
			DateOfBirth: p.DateOfBirth.Format(time.DateOnly), Sex: p.Sex, Deceased: p.Deceased, Registered: p.Registered,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) setFaults(w http.ResponseWriter, r *http.Request) {
	var s faults.Settings
	if err := decode(r, &s); err != nil {
		writeError(w, http.StatusBadRequest, `the body takes "latencyMs", "errorRate", "timeoutAfterCommitRate" and "ignoreConsultationGuid": `+err.Error())
		return
	}
	if err := h.cfg.Faults.Set(s); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.cfg.Logger.Info("admin: faults", "latencyMs", s.LatencyMs, "errorRate", s.ErrorRate, "timeoutAfterCommitRate", s.TimeoutAfterCommitRate,
		"ignoreConsultationGuid", s.IgnoreConsultationGUID)
	writeJSON(w, http.StatusOK, h.cfg.Faults.Settings())
}

// decode reads a small JSON body strictly: unknown fields are an error.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

func ptr[T any](v T) *T { return &v }
