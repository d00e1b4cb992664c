// Package outcome defines the legacy EMIS Open outcome numbers that the
// simulated Partner API puts in the legacyOutcome field of its ErrorResponse
// bodies, and the HTTP status that goes with each.
//
// The real numbers are not published. The values here are the simulator's own
// choice: distinct, grouped by kind (1xxx request, 2xxx token, 3xxx EMAS
// Manager access, 4xxx record data) and stable, so that tests and the agent's
// configuration can name them. Software that talks to a real EMIS system must
// keep its mapping from legacyOutcome numbers to meanings configurable rather
// than compile these values in.
package outcome

import (
	"fmt"
	"net/http"
)

// Code is a legacyOutcome number.
type Code int32

// Request problems.
const (
	// InternalError: the server failed (or a fault was injected).
	InternalError Code = 1001
	// MalformedRequest: a parameter, header or body does not match the contract.
	MalformedRequest Code = 1002
	// UnsupportedMediaType: the request body's media type is not accepted.
	UnsupportedMediaType Code = 1003
	// OperationNotSimulated: the path is not an operation practicesim serves.
	OperationNotSimulated Code = 1004
)

// Token problems.
const (
	// TokenInvalid: no bearer token, or one that is not valid or whose session has ended.
	TokenInvalid Code = 2001
	// TokenExpired: the bearer token was valid but has expired.
	TokenExpired Code = 2002
	// InsufficientScope: the token lacks the scope the operation requires.
	InsufficientScope Code = 2003
	// ApplicationUnknown: the applicationId header names no known application.
	ApplicationUnknown Code = 2004
)

// EMAS Manager > Partner API access problems.
const (
	// ApplicationNotActivated: the practice has deactivated the application.
	ApplicationNotActivated Code = 3001
	// UserNotEnabled: the user is not ticked under Edit Users for the application.
	UserNotEnabled Code = 3002
	// LoginNotAllowed: Login Access > Allow Login is not ticked for the user.
	LoginNotAllowed Code = 3003
	// AutoLoginNotAllowed: Login Access > Auto Login is not ticked for the user.
	AutoLoginNotAllowed Code = 3004
	// UserInactive: the user's EMIS account is disabled.
	UserInactive Code = 3005
	// RoleCannotFile: the user's RBAC role does not allow filing to a record.
	RoleCannotFile Code = 3006
	// SessionPredatesAccessChange: access was granted after the user signed
	// in; the user must sign out and in again for it to take effect.
	SessionPredatesAccessChange Code = 3007
	// UserContextRequired: the operation needs a signed-in user, and the token
	// was issued to an application alone (client credentials).
	UserContextRequired Code = 3008
)

// Record data problems.
const (
	// PatientNotFound: no patient has the given patient number.
	PatientNotFound Code = 4001
	// ConsultationNotFound: the patient has no consultation with the given GUID.
	ConsultationNotFound Code = 4002
	// UserNotFound: no user has the given user-in-role ID.
	UserNotFound Code = 4003
	// FilingNotPermitted: the body files something other than a text comment,
	// a coded value or an attachment as one new consultation.
	FilingNotPermitted Code = 4004
	// DuplicateConsultation: a consultation with the same GUID already exists.
	DuplicateConsultation Code = 4005
	// PatientNotRegistered: the patient is deregistered or deceased, so their
	// record no longer accepts filings.
	PatientNotRegistered Code = 4006
)

// All lists every code, in numeric order.
var All = []Code{
	InternalError, MalformedRequest, UnsupportedMediaType, OperationNotSimulated,
	TokenInvalid, TokenExpired, InsufficientScope, ApplicationUnknown,
	ApplicationNotActivated, UserNotEnabled, LoginNotAllowed, AutoLoginNotAllowed,
	UserInactive, RoleCannotFile, SessionPredatesAccessChange, UserContextRequired,
	PatientNotFound, ConsultationNotFound, UserNotFound, FilingNotPermitted,
	DuplicateConsultation, PatientNotRegistered,
}

type info struct {
	name   string
	status int
	issue  string // FHIR-style issue type code used in ErrorResponse.issue.code
}

var table = map[Code]info{
	InternalError:               {"InternalError", http.StatusInternalServerError, "exception"},
	MalformedRequest:            {"MalformedRequest", http.StatusBadRequest, "invalid"},
	UnsupportedMediaType:        {"UnsupportedMediaType", http.StatusUnsupportedMediaType, "not-supported"},
	OperationNotSimulated:       {"OperationNotSimulated", http.StatusNotFound, "not-supported"},
	TokenInvalid:                {"TokenInvalid", http.StatusUnauthorized, "login"},
	TokenExpired:                {"TokenExpired", http.StatusUnauthorized, "expired"},
	InsufficientScope:           {"InsufficientScope", http.StatusUnauthorized, "forbidden"},
	ApplicationUnknown:          {"ApplicationUnknown", http.StatusUnauthorized, "security"},
	ApplicationNotActivated:     {"ApplicationNotActivated", http.StatusUnauthorized, "security"},
	UserNotEnabled:              {"UserNotEnabled", http.StatusUnauthorized, "security"},
	LoginNotAllowed:             {"LoginNotAllowed", http.StatusUnauthorized, "security"},
	AutoLoginNotAllowed:         {"AutoLoginNotAllowed", http.StatusUnauthorized, "security"},
	UserInactive:                {"UserInactive", http.StatusUnauthorized, "security"},
	RoleCannotFile:              {"RoleCannotFile", http.StatusUnauthorized, "forbidden"},
	SessionPredatesAccessChange: {"SessionPredatesAccessChange", http.StatusUnauthorized, "login"},
	UserContextRequired:         {"UserContextRequired", http.StatusUnauthorized, "login"},
	PatientNotFound:             {"PatientNotFound", http.StatusNotFound, "not-found"},
	ConsultationNotFound:        {"ConsultationNotFound", http.StatusNotFound, "not-found"},
	UserNotFound:                {"UserNotFound", http.StatusNotFound, "not-found"},
	FilingNotPermitted:          {"FilingNotPermitted", http.StatusBadRequest, "not-supported"},
	DuplicateConsultation:       {"DuplicateConsultation", http.StatusBadRequest, "duplicate"},
	PatientNotRegistered:        {"PatientNotRegistered", http.StatusBadRequest, "business-rule"},
}

// String returns the code's constant name, e.g. "ApplicationNotActivated".
func (c Code) String() string {
	if i, ok := table[c]; ok {
		return i.name
	}
	return fmt.Sprintf("Code(%d)", int32(c))
}

// HTTPStatus returns the status the Partner API answers with for the code.
func (c Code) HTTPStatus() int {
	if i, ok := table[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// IssueType returns the issue type code (FHIR OperationOutcome style) that
// accompanies the code in an ErrorResponse.
func (c Code) IssueType() string {
	if i, ok := table[c]; ok {
		return i.issue
	}
	return "exception"
}

// Error is a refusal with a legacy outcome and a human-readable reason. The
// reason must never contain patient data: it is returned to callers and may
// be logged.
type Error struct {
	Code   Code
	Reason string
}

// Errorf returns an *Error with a formatted reason.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (legacyOutcome %d): %s", e.Code, int32(e.Code), e.Reason)
}
