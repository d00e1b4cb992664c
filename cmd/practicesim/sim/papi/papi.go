// Package papi serves the simulated EMIS-X Partner API operations the
// Writeback Agent uses: GetMatchedPatients, GetPatientDemographics,
// FileRecord, GetConsultation, GetMedicalRecord, GetOrganisation and
// GetUserById, at the paths of the OpenAPI document, with JSON bodies that
// match it.
//
// Every call goes through the same checks, in this order, and the first that
// fails answers with an ErrorResponse whose legacyOutcome names it:
//
//  1. injected faults (delay, server error);
//  2. the applicationId header: missing 400, unknown 401;
//  3. the bearer token: missing, invalid or expired 401;
//  4. the scope the operation requires: 401;
//  5. EMAS Manager access (application, user, session, role): 401;
//  6. the body's media type (FileRecord): 415 unless JSON;
//  7. the request against the OpenAPI document: 400;
//  8. the operation's own rules: 404 for an unknown patient, consultation or
//     user, 400 for a filing the Partner API does not permit.
//
// Nothing identifying a patient is logged: log lines carry the operation,
// the status, the legacy outcome and the duration, never the query string or
// the body.
package papi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

// OAuth2 scopes of the Partner API.
const (
	ScopeRecordWrite  = "papi-cr.write"      // FileRecord
	ScopeRecordRead   = "papi-cr.read"       // GetMedicalRecord, GetConsultation
	ScopeSubjectsRead = "papi-subjects.read" // GetMatchedPatients, GetPatientDemographics
	ScopeConfigRead   = "papi-config.read"   // GetOrganisation, GetUserById
)

// Scopes lists the scopes the simulated operations require.
var Scopes = []string{ScopeRecordWrite, ScopeRecordRead, ScopeSubjectsRead, ScopeConfigRead}

// ApplicationIDHeader carries the partner application's party key.
const ApplicationIDHeader = "applicationId"

// maxBodyBytes bounds a FileRecord body (attachments included): a writeback may carry 50 MB
// of attachments, 67 MB once in base64, plus the rest of the record.
const maxBodyBytes = 72 << 20

// errorCodingSystem names the code system of the legacyOutcome coding in
// ErrorResponse.issue.details.
const errorCodingSystem = "urn:practicesim:legacy-outcome"

// TokenVerifier checks a request's bearer token.
type TokenVerifier interface {
	Verify(r *http.Request) (idp.Grant, error)
}

// Config wires an API to the rest of the simulator.
type Config struct {
	ApplicationID string // the party key callers must send
	Practice      *fixtures.Practice
	Records       *records.Store
	Access        *emas.Manager
	Tokens        TokenVerifier
	Faults        *faults.Injector
	Contract      *contract.Validator
	Now           func() time.Time
	Logger        *slog.Logger
}

// API is the Partner API handler.
type API struct {
	cfg Config
	ops map[string]*operation
}

type operation struct {
	name   string
	method string
	scope  string
	action emas.Action
	handle func(*call) (any, error) // a nil body answers 204 No Content
}

// call is an admitted request.
type call struct {
	r      *http.Request
	userID int32 // the signed-in user; 0 for a client credentials token
	body   []byte
}

// New returns the Partner API handler.
func New(cfg Config) *API {
	a := &API{cfg: cfg}
	a.ops = map[string]*operation{
		"/api/v1/patientMatching/GetMatchedPatients": {"GetMatchedPatients", http.MethodGet, ScopeSubjectsRead, emas.Read, a.getMatchedPatients},
		"/api/v1/patient/GetPatientDemographics":     {"GetPatientDemographics", http.MethodGet, ScopeSubjectsRead, emas.Read, a.getPatientDemographics},
		"/api/v1/medicalRecord/FileRecord":           {"FileRecord", http.MethodPost, ScopeRecordWrite, emas.File, a.fileRecord},
		"/api/v1/medicalRecord/GetConsultation":      {"GetConsultation", http.MethodGet, ScopeRecordRead, emas.Read, a.getConsultation},
		"/api/v1/medicalRecord/GetMedicalRecord":     {"GetMedicalRecord", http.MethodGet, ScopeRecordRead, emas.Read, a.getMedicalRecord},
		"/api/v1/organisation/GetOrganisation":       {"GetOrganisation", http.MethodGet, ScopeConfigRead, emas.Read, a.getOrganisation},
		"/api/v1/user/GetUserById":                   {"GetUserById", http.MethodGet, ScopeConfigRead, emas.Read, a.getUserByID},
	}
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name, status, code := a.serve(w, r)
	a.cfg.Logger.Info("partner api call", "operation", name, "status", status,
		"legacyOutcome", int32(code), "duration", time.Since(start).Round(time.Millisecond))
}

// serve answers a request and reports what it answered.
func (a *API) serve(w http.ResponseWriter, r *http.Request) (string, int, outcome.Code) {
	op, ok := a.ops[r.URL.Path]
	if !ok {
		status, code := a.writeError(w, 0, outcome.Errorf(outcome.OperationNotSimulated, "no operation practicesim simulates has this path"))
		return "", status, code
	}
	if r.Method != op.method {
		w.Header().Set("Allow", op.method)
		status, code := a.writeError(w, http.StatusMethodNotAllowed, outcome.Errorf(outcome.MalformedRequest, "%s takes %s requests", op.name, op.method))
		return op.name, status, code
	}
	c, err := a.admit(r, op)
	if err == nil {
		var body any
		if body, err = op.handle(c); err == nil {
			return op.name, a.writeBody(w, body), 0
		}
	}
	var th *throttled
	if errors.As(err, &th) {
		w.Header().Set("Retry-After", strconv.Itoa(th.after))
		status, code := a.writeError(w, http.StatusTooManyRequests, th.oe)
		return op.name, status, code
	}
	var oe *outcome.Error
	if !errors.As(err, &oe) {
		a.cfg.Logger.Error("partner api call failed", "operation", op.name, "err", err)
		oe = outcome.Errorf(outcome.InternalError, "the server failed to process the request")
	}
	status, code := a.writeError(w, 0, oe)
	return op.name, status, code
}

// admit runs the checks every call must pass before the operation runs.
func (a *API) admit(r *http.Request, op *operation) (*call, error) {
	if err := a.injectFaults(r.Context()); err != nil {
		return nil, err
	}
	switch app := r.Header.Get(ApplicationIDHeader); {
	case app == "":
		return nil, outcome.Errorf(outcome.MalformedRequest, "the %s header is required", ApplicationIDHeader)
	case app != a.cfg.ApplicationID:
		return nil, outcome.Errorf(outcome.ApplicationUnknown, "the %s header names no known application", ApplicationIDHeader)
	}
	grant, err := a.cfg.Tokens.Verify(r)
	switch {
	case errors.Is(err, idp.ErrTokenExpired):
		return nil, outcome.Errorf(outcome.TokenExpired, "the access token has expired")
	case err != nil:
		return nil, outcome.Errorf(outcome.TokenInvalid, "the access token is missing or not valid")
	case !grant.HasScope(op.scope):
		return nil, outcome.Errorf(outcome.InsufficientScope, "%s requires the %s scope", op.name, op.scope)
	}
	c := &call{r: r}
	if c.userID, err = a.authorize(grant, op.action); err != nil {
		return nil, err
	}
	if op.method == http.MethodPost {
		if c.body, err = readJSONBody(r); err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(c.body))
	}
	if err := a.cfg.Contract.ValidateRequest(r); err != nil {
		var v *contract.Violation
		if errors.As(err, &v) {
			return nil, outcome.Errorf(outcome.MalformedRequest, "%s", v.Summary())
		}
		return nil, err
	}
	return c, nil
}

func (a *API) injectFaults(ctx context.Context) error {
	if d := a.cfg.Faults.Latency(); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("injected latency: %w", ctx.Err())
		}
	}
	if ok, after := a.cfg.Faults.Throttle(); ok {
		return &throttled{after: after, oe: outcome.Errorf(outcome.InternalError, "too many requests (practicesim fault injection)")}
	}
	if a.cfg.Faults.FailCall() {
		return outcome.Errorf(outcome.InternalError, "simulated server fault (practicesim fault injection)")
	}
	return nil
}

// throttled is an injected 429 Too Many Requests with its Retry-After, in seconds.
type throttled struct {
	oe    *outcome.Error
	after int
}

func (t *throttled) Error() string { return t.oe.Error() }
func (t *throttled) Unwrap() error { return t.oe }

// authorize applies the practice's EMAS Manager settings and returns the
// calling user (0 for an application-only token).
func (a *API) authorize(g idp.Grant, action emas.Action) (int32, error) {
	if g.SessionID == "" {
		if err := a.cfg.Access.AuthorizeApplication(); err != nil {
			return 0, err
		}
		if action == emas.File {
			return 0, outcome.Errorf(outcome.UserContextRequired, "filing needs a signed-in user; the token was issued to the application alone")
		}
		return 0, nil
	}
	id, err := strconv.ParseInt(g.Subject, 10, 32)
	if err != nil {
		return 0, outcome.Errorf(outcome.TokenInvalid, "the access token's subject is not a user")
	}
	return int32(id), a.cfg.Access.Authorize(g.SessionID, int32(id), action)
}

// readJSONBody enforces the body's media type and size.
func readJSONBody(r *http.Request) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return nil, outcome.Errorf(outcome.UnsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
	case mt == "application/xml" || mt == "text/xml":
		return nil, outcome.Errorf(outcome.UnsupportedMediaType, "practicesim simulates JSON bodies only; send application/json")
	case mt != "application/json" && mt != "text/json":
		return nil, outcome.Errorf(outcome.UnsupportedMediaType, "media type %s is not accepted; send application/json", mt)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, outcome.Errorf(outcome.MalformedRequest, "the body exceeds %d bytes", maxBodyBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return body, nil
}

func (a *API) writeBody(w http.ResponseWriter, body any) int {
	if body == nil {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	writeJSON(w, http.StatusOK, body)
	return http.StatusOK
}

// writeError answers with an ErrorResponse; status 0 means the outcome's own.
func (a *API) writeError(w http.ResponseWriter, status int, e *outcome.Error) (int, outcome.Code) {
	if status == 0 {
		status = e.Code.HTTPStatus()
	}
	switch e.Code {
	case outcome.TokenInvalid, outcome.TokenExpired:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case outcome.InsufficientScope:
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
	}
	writeJSON(w, status, errorResponse(e))
	return status, e.Code
}

func errorResponse(e *outcome.Error) emisopen.ErrorResponse {
	return emisopen.ErrorResponse{
		MessageID: newGUID(),
		Text: &emisopen.Text{
			Status: "generated",
			Div:    `<div xmlns="http://www.w3.org/1999/xhtml">` + html.EscapeString(e.Reason) + `</div>`,
		},
		Issue: &emisopen.Issue{
			Severity: emisopen.SeverityError,
			Code:     e.Code.IssueType(),
			Details: &emisopen.Details{
				Text:   e.Reason,
				Coding: &emisopen.Coding{System: errorCodingSystem, Code: strconv.Itoa(int(e.Code)), Display: e.Code.String()},
			},
			Diagnostics: e.Reason,
		},
		LegacyOutcome: int32(e.Code),
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// newGUID returns a random (version 4) UUID.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
