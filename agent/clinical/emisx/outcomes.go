package emisx

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// LegacyOutcomes are the legacy EMIS Open outcome numbers the Partner API puts in an
// ErrorResponse's legacyOutcome, by meaning. EMIS does not publish them, so they are
// configuration (JSON or TOML): start from DefaultLegacyOutcomes and override what the real
// service uses. A zero field recognises nothing; an answer whose number is not recognised is
// judged by its issue type and HTTP status.
type LegacyOutcomes struct {
	InternalError         int32 `json:"internalError" toml:"internal_error"`
	MalformedRequest      int32 `json:"malformedRequest" toml:"malformed_request"`
	UnsupportedMediaType  int32 `json:"unsupportedMediaType" toml:"unsupported_media_type"`
	OperationNotSupported int32 `json:"operationNotSupported" toml:"operation_not_supported"`

	TokenInvalid       int32 `json:"tokenInvalid" toml:"token_invalid"`
	TokenExpired       int32 `json:"tokenExpired" toml:"token_expired"`
	InsufficientScope  int32 `json:"insufficientScope" toml:"insufficient_scope"`
	ApplicationUnknown int32 `json:"applicationUnknown" toml:"application_unknown"`

	ApplicationNotActivated     int32 `json:"applicationNotActivated" toml:"application_not_activated"`
	UserNotEnabled              int32 `json:"userNotEnabled" toml:"user_not_enabled"`
	LoginNotAllowed             int32 `json:"loginNotAllowed" toml:"login_not_allowed"`
	AutoLoginNotAllowed         int32 `json:"autoLoginNotAllowed" toml:"auto_login_not_allowed"`
	UserInactive                int32 `json:"userInactive" toml:"user_inactive"`
	RoleCannotFile              int32 `json:"roleCannotFile" toml:"role_cannot_file"`
	SessionPredatesAccessChange int32 `json:"sessionPredatesAccessChange" toml:"session_predates_access_change"`
	UserContextRequired         int32 `json:"userContextRequired" toml:"user_context_required"`

	PatientNotFound       int32 `json:"patientNotFound" toml:"patient_not_found"`
	ConsultationNotFound  int32 `json:"consultationNotFound" toml:"consultation_not_found"`
	UserNotFound          int32 `json:"userNotFound" toml:"user_not_found"`
	FilingNotPermitted    int32 `json:"filingNotPermitted" toml:"filing_not_permitted"`
	DuplicateConsultation int32 `json:"duplicateConsultation" toml:"duplicate_consultation"`
	PatientNotRegistered  int32 `json:"patientNotRegistered" toml:"patient_not_registered"`
}

// DefaultLegacyOutcomes returns the numbers practicesim answers with (its package outcome),
// the only ones known until EMIS confirms the real service's.
func DefaultLegacyOutcomes() LegacyOutcomes {
	return LegacyOutcomes{
		InternalError: 1001, MalformedRequest: 1002, UnsupportedMediaType: 1003, OperationNotSupported: 1004,
		TokenInvalid: 2001, TokenExpired: 2002, InsufficientScope: 2003, ApplicationUnknown: 2004,
		ApplicationNotActivated: 3001, UserNotEnabled: 3002, LoginNotAllowed: 3003, AutoLoginNotAllowed: 3004,
		UserInactive: 3005, RoleCannotFile: 3006, SessionPredatesAccessChange: 3007, UserContextRequired: 3008,
		PatientNotFound: 4001, ConsultationNotFound: 4002, UserNotFound: 4003, FilingNotPermitted: 4004,
		DuplicateConsultation: 4005, PatientNotRegistered: 4006,
	}
}

// meaning is what an outcome number tells the agent.
type meaning struct {
	kind  clinical.Kind
	cause string
}

// meanings gives each field of LegacyOutcomes its meaning.
var meanings = map[string]meaning{
	"InternalError":         {clinical.ErrTransient, ""},
	"MalformedRequest":      {clinical.ErrBadRequest, "malformed-request"},
	"UnsupportedMediaType":  {clinical.ErrBadRequest, "unsupported-media-type"},
	"OperationNotSupported": {clinical.ErrBadRequest, "operation-not-supported"},

	"TokenInvalid":       {clinical.ErrRelinkNeeded, "token-invalid"},
	"TokenExpired":       {clinical.ErrTokenExpired, ""},
	"InsufficientScope":  {clinical.ErrRelinkNeeded, "scope-missing"},
	"ApplicationUnknown": {clinical.ErrApplicationNotActivated, "application-unknown"},

	"ApplicationNotActivated":     {clinical.ErrApplicationNotActivated, ""},
	"UserNotEnabled":              {clinical.ErrNoLoginAccess, "user-not-enabled"},
	"LoginNotAllowed":             {clinical.ErrNoLoginAccess, "login-not-allowed"},
	"AutoLoginNotAllowed":         {clinical.ErrNoLoginAccess, "auto-login-not-allowed"},
	"UserInactive":                {clinical.ErrNoLoginAccess, "user-inactive"},
	"RoleCannotFile":              {clinical.ErrInsufficientRole, ""},
	"SessionPredatesAccessChange": {clinical.ErrRelinkNeeded, "session-predates-access-change"},
	"UserContextRequired":         {clinical.ErrRelinkNeeded, "user-context-required"},

	"PatientNotFound":       {clinical.ErrPatientNotFound, ""},
	"ConsultationNotFound":  {clinical.ErrConsultationNotFound, ""},
	"UserNotFound":          {clinical.ErrUserNotFound, ""},
	"FilingNotPermitted":    {clinical.ErrBadRequest, "filing-not-permitted"},
	"DuplicateConsultation": {clinical.ErrDuplicateConsultation, ""},
	"PatientNotRegistered":  {clinical.ErrPatientNotRegistered, ""},
}

// Validate reports a number configured for two meanings.
func (o LegacyOutcomes) Validate() error {
	_, err := o.table()
	return err
}

// table returns the meaning of each configured number. Two meanings cannot share a number.
func (o LegacyOutcomes) table() (map[int32]meaning, error) {
	t := map[int32]meaning{}
	names := map[int32]string{}
	v := reflect.ValueOf(o)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		n := int32(v.Field(i).Int())
		if n == 0 {
			continue
		}
		if other, dup := names[n]; dup {
			return nil, fmt.Errorf("emisx: legacy outcome %d is configured for both %s and %s", n, other, name)
		}
		names[n], t[n] = name, meanings[name]
	}
	return t, nil
}

// issueMeanings are the ErrorResponse issue types (FHIR IssueType codes) that say enough on
// their own, for an answer whose outcome number is not a known one.
var issueMeanings = map[string]meaning{
	"expired":   {clinical.ErrTokenExpired, ""},
	"login":     {clinical.ErrRelinkNeeded, "login-required"},
	"duplicate": {clinical.ErrDuplicateConsultation, ""},
	"transient": {clinical.ErrTransient, ""},
	"timeout":   {clinical.ErrTransient, ""},
	"throttled": {clinical.ErrTransient, ""},
	"exception": {clinical.ErrTransient, ""},
}

// classify says what an error answer means: by its outcome number when it is a known one,
// otherwise by its issue type when that is telling, otherwise by its HTTP status.
func classify(outcomes map[int32]meaning, status int, legacy int32, issue string) meaning {
	if m, ok := outcomes[legacy]; ok {
		return m
	}
	if m, ok := issueMeanings[issue]; ok {
		return m
	}
	switch {
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return meaning{kind: clinical.ErrTransient}
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return meaning{kind: clinical.ErrAccessDenied}
	case status >= 400:
		return meaning{kind: clinical.ErrBadRequest}
	}
	return meaning{kind: clinical.ErrTransient, cause: "unexpected-answer"}
}
