// Package contract holds the EMIS-X Partner API 1.2 OpenAPI document and
// checks HTTP requests and responses against it with kin-openapi's
// openapi3filter.
//
// The document is embedded byte for byte as published. Its OAuth2
// authorizationCode flow lacks authorizationUrl and tokenUrl, which makes a
// strict whole-document validation fail, so New fills both in memory with the
// identity provider's URLs (or placeholders) before validating the document.
//
// Both the simulator and the agent's EMIS adapter tests use this package:
// the simulator to validate request bodies as the real service's model
// binding would, the tests to wrap an http.Client's transport (see
// Transport) so that any drift of either side from the published contract
// fails the build.
//
// Importing the package registers a validator for the "uuid" string format
// with kin-openapi (a process-wide registry), so that GUID fields and
// parameters are checked.
package contract

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

//go:embed emis-x-partner-api-1.2.openapi.json
var document []byte

// oauthSchemeName is the OAuth2 security scheme whose flow URLs the published
// document leaves out.
const oauthSchemeName = "OAuth2CodeEMIS-X-GP-PAPI"

// Placeholder identity provider URLs used when New is given none.
const (
	PlaceholderAuthorizationURL = "https://identity.example.invalid/authorize"
	PlaceholderTokenURL         = "https://identity.example.invalid/oauth/token"
)

// uuidPattern accepts any RFC 9562 UUID in its hyphenated form, whatever the
// version, as .NET's Guid does.
const uuidPattern = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`

func init() {
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(uuidPattern))
}

// IdentityProvider names the OAuth2 endpoints filled into the document's
// authorization code flow. Empty fields get the placeholders.
type IdentityProvider struct {
	AuthorizationURL string
	TokenURL         string
}

// Validator checks requests and responses against the Partner API document.
// It is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// validators memoises New: loading the document takes a noticeable fraction
// of a second (several times that under the race detector), and a Validator
// never changes once built.
var validators = struct {
	sync.Mutex
	byIDP map[IdentityProvider]*Validator
}{byIDP: map[IdentityProvider]*Validator{}}

// New returns a Validator for the embedded document with the identity
// provider's URLs filled in. The document is loaded, validated as a whole and
// routed once per process and IdentityProvider; later calls share the result.
func New(idp IdentityProvider) (*Validator, error) {
	validators.Lock()
	defer validators.Unlock()
	if v, ok := validators.byIDP[idp]; ok {
		return v, nil
	}
	v, err := load(idp)
	if err != nil {
		return nil, err
	}
	validators.byIDP[idp] = v
	return v, nil
}

func load(idp IdentityProvider) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("contract: load document: %w", err)
	}
	scheme := doc.Components.SecuritySchemes[oauthSchemeName]
	if scheme == nil || scheme.Value == nil || scheme.Value.Flows == nil || scheme.Value.Flows.AuthorizationCode == nil {
		return nil, fmt.Errorf("contract: document has no %s authorization code flow", oauthSchemeName)
	}
	flow := scheme.Value.Flows.AuthorizationCode
	flow.AuthorizationURL = orDefault(idp.AuthorizationURL, PlaceholderAuthorizationURL)
	flow.TokenURL = orDefault(idp.TokenURL, PlaceholderTokenURL)
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("contract: validate document: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contract: build router: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Spec returns the loaded document. Callers must not modify it.
func (v *Validator) Spec() *openapi3.T { return v.doc }

// Phase says which half of an exchange broke the contract.
type Phase string

// Phases of an exchange.
const (
	PhaseRequest  Phase = "request"
	PhaseResponse Phase = "response"
)

// Violation is a request or response that does not match the document.
type Violation struct {
	Phase     Phase
	Operation string // operationId, empty when no operation matched
	Method    string
	Path      string // URL path only: query strings may carry patient data
	Status    int    // response status; zero for a request violation
	Err       error
}

func (e *Violation) Error() string {
	op := e.Operation
	if op == "" {
		op = "no operation"
	}
	if e.Phase == PhaseResponse {
		return fmt.Sprintf("contract: %s %s (%s) response %d: %v", e.Method, e.Path, op, e.Status, e.Err)
	}
	return fmt.Sprintf("contract: %s %s (%s) request: %v", e.Method, e.Path, op, e.Err)
}

func (e *Violation) Unwrap() error { return e.Err }

// Summary describes the violation without quoting the offending values,
// which may be patient data: the location (a JSON pointer into the body, or
// the parameter) and the reason.
func (e *Violation) Summary() string {
	var se *openapi3.SchemaError
	var re *openapi3filter.RequestError
	var sec *openapi3filter.SecurityRequirementsError
	var where string
	if errors.As(e.Err, &re) {
		switch {
		case re.Parameter != nil:
			where = fmt.Sprintf("%s parameter %s", re.Parameter.In, re.Parameter.Name)
		case re.RequestBody != nil:
			where = "request body"
		}
	}
	switch {
	case errors.As(e.Err, &se):
		if p := se.JSONPointer(); len(p) > 0 {
			where = strings.TrimSpace(where + " /" + strings.Join(p, "/"))
		}
		return strings.TrimPrefix(where+": "+se.Reason, ": ")
	case errors.As(e.Err, &sec):
		return ErrNoBearerToken.Error()
	case re != nil && re.Reason != "":
		return strings.TrimPrefix(where+": "+re.Reason, ": ")
	case where != "":
		return where + " is not valid"
	}
	return e.Err.Error()
}

// ErrNoBearerToken is reported for a request without "Authorization: Bearer …".
var ErrNoBearerToken = errors.New("no bearer token in the Authorization header")

// ErrBodyOnNoContent is reported for a 204 response that carries content.
var ErrBodyOnNoContent = errors.New("a 204 response must not have content")

// Operation returns the operationId that the request's method and path
// match, if any.
func (v *Validator) Operation(r *http.Request) (string, bool) {
	route, _, err := v.router.FindRoute(r)
	if err != nil || route.Operation == nil {
		return "", false
	}
	return route.Operation.OperationID, true
}

// ValidateRequest checks the request's operation, parameters (the
// applicationId header among them), bearer token presence and body. The body
// is read and replaced, so the request can still be sent or served. A
// violation is returned as a *Violation.
func (v *Validator) ValidateRequest(r *http.Request) error {
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return v.violation(PhaseRequest, r, "", 0, err)
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options:    v.options(),
	}
	if err := openapi3filter.ValidateRequest(r.Context(), input); err != nil {
		return v.violation(PhaseRequest, r, route.Operation.OperationID, 0, err)
	}
	return nil
}

// ValidateResponse checks that resp, received for r, has a status the
// operation documents and a body that matches its schema. The response body
// is read and replaced.
func (v *Validator) ValidateResponse(r *http.Request, resp *http.Response) error {
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return v.violation(PhaseResponse, r, "", resp.StatusCode, err)
	}
	op := route.Operation.OperationID
	body, err := readAndReplace(&resp.Body)
	if err != nil {
		return v.violation(PhaseResponse, r, op, resp.StatusCode, err)
	}
	opts := v.options()
	if resp.StatusCode == http.StatusNoContent {
		// The document gives 204 responses a string schema, but HTTP forbids
		// content on a 204 (RFC 9110 §15.3.5): check only the status.
		if len(body) > 0 {
			return v.violation(PhaseResponse, r, op, resp.StatusCode, ErrBodyOnNoContent)
		}
		opts.ExcludeResponseBody = true
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: params,
			Route:      route,
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: opts,
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(r.Context(), input); err != nil {
		return v.violation(PhaseResponse, r, op, resp.StatusCode, err)
	}
	return nil
}

func (v *Validator) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus: true,
		AuthenticationFunc:    requireBearerToken,
	}
}

func (v *Validator) violation(phase Phase, r *http.Request, op string, status int, err error) *Violation {
	return &Violation{Phase: phase, Operation: op, Method: r.Method, Path: r.URL.Path, Status: status, Err: err}
}

// requireBearerToken satisfies both of the document's security schemes (an
// HTTP bearer JWT and OAuth2): the request must carry a bearer token. Whether
// the token is good is the server's business, not the contract's.
func requireBearerToken(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return ErrNoBearerToken
	}
	return nil
}

// readAndReplace reads a body fully and puts an equivalent reader back.
func readAndReplace(body *io.ReadCloser) ([]byte, error) {
	if *body == nil || *body == http.NoBody {
		return nil, nil
	}
	data, err := io.ReadAll(*body)
	(*body).Close()
	*body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return data, nil
}
