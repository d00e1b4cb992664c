package contract

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// publishedCopy is the shared specification, beside the repository checkout.
const publishedCopy = "../../../../shared/specs/emis-x-partner-api-1.2.openapi.json"

func TestEmbeddedDocumentIsThePublishedOne(t *testing.T) {
	published, err := os.ReadFile(publishedCopy)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("shared specification not present beside the checkout")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(published, document) {
		t.Fatal("embedded emis-x-partner-api-1.2.openapi.json differs from the shared specification")
	}
}

func newValidator(t *testing.T) *Validator {
	t.Helper()
	v, err := New(IdentityProvider{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewFillsIdentityProviderURLs(t *testing.T) {
	v, err := New(IdentityProvider{AuthorizationURL: "http://127.0.0.1:1/authorize", TokenURL: "http://127.0.0.1:1/oauth/token"})
	if err != nil {
		t.Fatal(err)
	}
	flow := v.Spec().Components.SecuritySchemes[oauthSchemeName].Value.Flows.AuthorizationCode
	if flow.AuthorizationURL != "http://127.0.0.1:1/authorize" || flow.TokenURL != "http://127.0.0.1:1/oauth/token" {
		t.Errorf("flow URLs = %q, %q", flow.AuthorizationURL, flow.TokenURL)
	}
	flow = newValidator(t).Spec().Components.SecuritySchemes[oauthSchemeName].Value.Flows.AuthorizationCode
	if flow.AuthorizationURL != PlaceholderAuthorizationURL || flow.TokenURL != PlaceholderTokenURL {
		t.Errorf("placeholder flow URLs = %q, %q", flow.AuthorizationURL, flow.TokenURL)
	}
}

const validGUID = "3f2b8c1e-9d4a-4e7b-8c2d-1a2b3c4d5e6f"

func request(method, target string, header map[string]string, body string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

var goodHeaders = map[string]string{"applicationId": "app", "Authorization": "Bearer t"}

func TestValidateRequest(t *testing.T) {
	v := newValidator(t)
	withJSON := map[string]string{"applicationId": "app", "Authorization": "Bearer t", "Content-Type": "application/json"}
	tests := []struct {
		name    string
		req     *http.Request
		wantErr bool
	}{
		{"GetMedicalRecord", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", goodHeaders, ""), false},
		{"applicationId header missing", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", map[string]string{"Authorization": "Bearer t"}, ""), true},
		{"no bearer token", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", map[string]string{"applicationId": "app"}, ""), true},
		{"patientNumber not an integer", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=x", goodHeaders, ""), true},
		{"patientNumber beyond int32", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=3000000000", goodHeaders, ""), true},
		{"consultationGuid not a GUID", request("GET", "/api/v1/medicalRecord/GetConsultation?patientNumber=5&consultationGuid=nope", goodHeaders, ""), true},
		{"consultationGuid", request("GET", "/api/v1/medicalRecord/GetConsultation?patientNumber=5&consultationGuid="+validGUID, goodHeaders, ""), false},
		{"FileRecord body", request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", withJSON, `{"consultationList":[{"guid":"`+validGUID+`"}]}`), false},
		{"FileRecord unknown property", request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", withJSON, `{"consultations":[]}`), true},
		{"FileRecord wrong type", request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", withJSON, `{"consultationList":{}}`), true},
		{"FileRecord without body", request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", withJSON, ""), true},
		{"unknown API path", request("GET", "/api/v1/medicalRecord/Nope", goodHeaders, ""), true},
		{"wrong method", request("DELETE", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", goodHeaders, ""), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.ValidateRequest(tt.req)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateRequest() = %v, wantErr %v", err, tt.wantErr)
			}
			var viol *Violation
			if err != nil && (!errors.As(err, &viol) || viol.Phase != PhaseRequest) {
				t.Errorf("error %v is not a request *Violation", err)
			}
		})
	}
}

func TestValidateRequestLeavesBodyReadable(t *testing.T) {
	v := newValidator(t)
	body := `{"consultationList":[]}`
	r := request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5",
		map[string]string{"applicationId": "app", "Authorization": "Bearer t", "Content-Type": "application/json"}, body)
	if err := v.ValidateRequest(r); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	if string(got) != body {
		t.Errorf("body after validation = %q", got)
	}
}

func response(status int, contentType, body string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

func TestValidateResponse(t *testing.T) {
	v := newValidator(t)
	getRecord := request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", goodHeaders, "")
	fileRecord := request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", goodHeaders, "")
	errorBody := `{"messageId":"` + validGUID + `","text":{"status":"generated","div":"<div>x</div>"},"issue":{"severity":0,"code":"not-found","details":{"text":"x","coding":{"system":"s","code":"4001","display":"PatientNotFound"}},"diagnostics":"x"},"legacyOutcome":4001}`
	tests := []struct {
		name    string
		req     *http.Request
		resp    *http.Response
		wantErr bool
	}{
		{"medical record", getRecord, response(200, "application/json", `{"patientID":"5","consultationList":[]}`), false},
		{"medical record with charset", getRecord, response(200, "application/json; charset=utf-8", `{"patientID":"5"}`), false},
		{"unknown property", getRecord, response(200, "application/json", `{"patientId":"5"}`), true},
		{"error response", getRecord, response(404, "application/json", errorBody), false},
		{"error response with extra property", getRecord, response(404, "application/json", `{"legacyOutcome":1,"message":"x"}`), true},
		{"error response messageId not a GUID", getRecord, response(404, "application/json", `{"messageId":"1"}`), true},
		{"error response severity out of range", getRecord, response(400, "application/json", `{"issue":{"severity":7}}`), true},
		{"undocumented status", getRecord, response(403, "application/json", errorBody), true},
		{"undocumented media type", getRecord, response(200, "text/plain", `ok`), true},
		{"FileRecord no content", fileRecord, response(204, "", ""), false},
		{"FileRecord 204 with content", fileRecord, response(204, "application/json", `"done"`), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.ValidateResponse(tt.req, tt.resp)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateResponse() = %v, wantErr %v", err, tt.wantErr)
			}
			var viol *Violation
			if err != nil && (!errors.As(err, &viol) || viol.Phase != PhaseResponse || viol.Status != tt.resp.StatusCode) {
				t.Errorf("error %v is not a response *Violation with the status", err)
			}
		})
	}
}

func TestOperation(t *testing.T) {
	v := newValidator(t)
	if op, ok := v.Operation(request("POST", "/api/v1/medicalRecord/FileRecord", nil, "")); !ok || op != "FileRecord" {
		t.Errorf("Operation = %q, %v", op, ok)
	}
	if _, ok := v.Operation(request("GET", "/oauth/token", nil, "")); ok {
		t.Error("the token endpoint is not a Partner API operation")
	}
}

func TestTransportRecordsViolationsAndPassesThrough(t *testing.T) {
	v := newValidator(t)
	var served []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		served = append(served, r.URL.Path+" "+string(body))
		switch r.URL.Path {
		case "/api/v1/medicalRecord/FileRecord":
			w.WriteHeader(http.StatusNoContent)
		case "/api/v1/medicalRecord/GetMedicalRecord":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"bogus":true}`))
		default:
			w.Write([]byte("not the contract's business"))
		}
	}))
	defer srv.Close()
	tr := v.Transport(nil)
	client := &http.Client{Transport: tr}

	post, _ := http.NewRequest("POST", srv.URL+"/api/v1/medicalRecord/FileRecord?patientNumber=5", strings.NewReader(`{"consultationList":[]}`))
	post.Header.Set("applicationId", "app")
	post.Header.Set("Authorization", "Bearer t")
	post.Header.Set("Content-Type", "application/json")
	mustDo(t, client, post)

	get, _ := http.NewRequest("GET", srv.URL+"/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", nil)
	get.Header.Set("Authorization", "Bearer t") // applicationId missing
	mustDo(t, client, get)

	other, _ := http.NewRequest("POST", srv.URL+"/oauth/token", strings.NewReader("grant_type=password"))
	mustDo(t, client, other)

	if len(served) != 3 || served[0] != `/api/v1/medicalRecord/FileRecord {"consultationList":[]}` {
		t.Errorf("server saw %q", served)
	}
	viols := tr.Violations()
	if len(viols) != 2 {
		t.Fatalf("violations = %v, want the GetMedicalRecord request and response", viols)
	}
	if viols[0].Phase != PhaseRequest || viols[0].Operation != "GetMedicalRecord" {
		t.Errorf("first violation = %v", viols[0])
	}
	if rv := tr.ResponseViolations(); len(rv) != 1 || rv[0].Status != 200 {
		t.Errorf("response violations = %v", rv)
	}
	if strings.Contains(viols[0].Error(), "patientNumber=5") {
		t.Errorf("violation text carries the query string: %v", viols[0])
	}
	tr.Reset()
	if len(tr.Violations()) != 0 {
		t.Error("Reset left violations")
	}
}

func mustDo(t *testing.T, c *http.Client, r *http.Request) {
	t.Helper()
	resp, err := c.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func TestViolationSummaryQuotesNoValues(t *testing.T) {
	v := newValidator(t)
	secret := "Zoë O'Brien"
	withJSON := map[string]string{"applicationId": "app", "Authorization": "Bearer t", "Content-Type": "application/json"}
	tests := []struct {
		name string
		req  *http.Request
		want string
	}{
		{"body property of the wrong type", request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", withJSON,
			`{"eventList":[{"descriptiveText":["`+secret+`"]}]}`), "/eventList/0/descriptiveText"},
		{"unknown body property", request("POST", "/api/v1/medicalRecord/FileRecord?patientNumber=5", withJSON,
			`{"eventList":[{"colour":"`+secret+`"}]}`), `request body /eventList/0: property "colour" is unsupported`},
		{"bad parameter", request("GET", "/api/v1/patientMatching/GetMatchedPatients?matchedTerms=x",
			map[string]string{"Authorization": "Bearer t"}, ""), "header parameter applicationId"},
		{"bad integer", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=Smith", goodHeaders, ""), "query parameter patientNumber"},
		{"no token", request("GET", "/api/v1/medicalRecord/GetMedicalRecord?patientNumber=5", map[string]string{"applicationId": "a"}, ""), "bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var viol *Violation
			if !errors.As(v.ValidateRequest(tt.req), &viol) {
				t.Fatal("no violation")
			}
			s := viol.Summary()
			if !strings.Contains(s, tt.want) {
				t.Errorf("Summary() = %q, want it to mention %q", s, tt.want)
			}
			if strings.Contains(s, "Zo") || strings.Contains(s, "Smith") {
				t.Errorf("Summary() quotes the value: %q", s)
			}
		})
	}
}
