package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

// Partner API paths.
const (
	pathMatchedPatients = "/api/v1/patientMatching/GetMatchedPatients"
	pathDemographics    = "/api/v1/patient/GetPatientDemographics"
	pathFileRecord      = "/api/v1/medicalRecord/FileRecord"
	pathConsultation    = "/api/v1/medicalRecord/GetConsultation"
	pathMedicalRecord   = "/api/v1/medicalRecord/GetMedicalRecord"
	pathOrganisation    = "/api/v1/organisation/GetOrganisation"
	pathUserByID        = "/api/v1/user/GetUserById"
)

// harness runs a simulator (package simtest) that keeps its state in a folder, so that it
// can restart, and makes Partner API calls through the contract-checking transport: an
// answer that breaks the contract fails the test, and so does a request that breaks it
// unless the test said it meant to send one (ExpectInvalidRequests).
type harness struct {
	*simtest.Practice
	t      *testing.T
	client *http.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	p := simtest.Start(t, simtest.StateDir(t.TempDir()))
	return &harness{Practice: p, t: t, client: p.HTTPClient()}
}

// registeredPatient returns a patient whose record accepts filings.
func (h *harness) registeredPatient() fixtures.Patient {
	return h.Fixtures().Patients[0]
}

func (h *harness) desktopClient() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    idp.DesktopClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: h.URL + "/authorize", TokenURL: h.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://127.0.0.1:49152/callback",
		Scopes:      []string{"openid", "profile", "offline_access", "papi-cr.write", "papi-cr.read", "papi-subjects.read", "papi-config.read"},
	}
}

// signIn signs a member of staff in with the password grant.
func (h *harness) signIn(s fixtures.Staff) *oauth2.Token {
	h.t.Helper()
	tok, err := h.desktopClient().PasswordCredentialsToken(context.Background(), s.Username, s.Password)
	if err != nil {
		h.t.Fatalf("sign in as %s: %v", s.Username, err)
	}
	return tok
}

// refresh uses a token's refresh token, as an agent does when its access
// token expires.
func (h *harness) refresh(tok *oauth2.Token) *oauth2.Token {
	h.t.Helper()
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	fresh, err := h.desktopClient().TokenSource(context.Background(), &stale).Token()
	if err != nil {
		h.t.Fatalf("refresh: %v", err)
	}
	return fresh
}

func (h *harness) serviceToken(scopes ...string) *oauth2.Token {
	h.t.Helper()
	cc := clientcredentials.Config{ClientID: idp.ServiceClientID, ClientSecret: idp.ServiceClientSecret, TokenURL: h.URL + "/oauth/token", Scopes: scopes}
	tok, err := cc.Token(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// apiRequest is a Partner API call to make.
type apiRequest struct {
	method      string // GET unless set
	path        string
	query       url.Values
	token       string // bearer token; empty sends none
	appID       string // applicationId header; sim.ApplicationID unless set, "-" sends none
	contentType string // application/json for a body unless set
	body        any    // marshalled to JSON unless a string
}

type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// outcome returns the legacyOutcome of an error response, 0 for success.
func (r apiResponse) outcome() outcome.Code {
	if r.status < 400 {
		return 0
	}
	var e emisopen.ErrorResponse
	json.Unmarshal(r.body, &e)
	return outcome.Code(e.LegacyOutcome)
}

func (r apiResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (h *harness) call(req apiRequest) apiResponse {
	h.t.Helper()
	resp, err := h.send(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) send(req apiRequest) (apiResponse, error) {
	method := req.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	target := h.URL + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	r, err := http.NewRequest(method, target, body)
	if err != nil {
		h.t.Fatal(err)
	}
	switch req.appID {
	case "":
		r.Header.Set("applicationId", sim.ApplicationID)
	case "-":
	default:
		r.Header.Set("applicationId", req.appID)
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	if body != nil {
		ct := req.contentType
		if ct == "" {
			ct = "application/json"
		}
		r.Header.Set("Content-Type", ct)
	}
	resp, err := h.client.Do(r)
	if err != nil {
		return apiResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return apiResponse{status: resp.StatusCode, header: resp.Header, body: data}, err
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func patientQuery(n int32) url.Values { return url.Values{"patientNumber": {itoa(n)}} }

// fileRequest files a body for a patient with a token.
func fileRequest(token string, patient int32, body any) apiRequest {
	return apiRequest{method: http.MethodPost, path: pathFileRecord, query: patientQuery(patient), token: token, body: body}
}

// Example filings: what the agent files.

func textComment(guid string) emisopen.MedicalRecord {
	return emisopen.MedicalRecord{
		ConsultationList: []emisopen.Consultation{{
			Ident:               emisopen.Ident{GUID: guid},
			PfsVisible:          false,
			PfsVisibleSpecified: true,
			ElementList:         []emisopen.Element{{Item: &emisopen.Ident{RefID: "1"}}},
		}},
		EventList: []emisopen.Event{{CodedItem: emisopen.CodedItem{
			Ident:           emisopen.Ident{RefID: "1"},
			DisplayTerm:     "Online consultation",
			DescriptiveText: "Patient asked about repeat of hay fever tablets; advised to use pharmacy.",
		}}},
	}
}

func codedValue(guid string) emisopen.MedicalRecord {
	snomed := emisopen.SchemeSnomed
	return emisopen.MedicalRecord{
		ConsultationList: []emisopen.Consultation{{
			Ident:               emisopen.Ident{GUID: guid},
			AssignedDate:        "01/06/2025",
			PfsVisible:          true,
			PfsVisibleSpecified: true,
			ElementList:         []emisopen.Element{{Item: &emisopen.Ident{GUID: "0b9a2f7e-5d1c-4b3a-8e6f-9c0d1e2f3a4b"}}},
		}},
		EventList: []emisopen.Event{{CodedItem: emisopen.CodedItem{
			Ident: emisopen.Ident{GUID: "0b9a2f7e-5d1c-4b3a-8e6f-9c0d1e2f3a4b"},
			Code:  &emisopen.StringCode{Value: "1325581000000105", Scheme: &snomed, SchemeSpecified: true, Term: "eConsultation"},
		}}},
	}
}

func attachment(guid string) emisopen.MedicalRecord {
	return emisopen.MedicalRecord{
		ConsultationList: []emisopen.Consultation{{
			Ident:               emisopen.Ident{GUID: guid},
			PfsVisibleSpecified: true,
			ElementList:         []emisopen.Element{{Item: &emisopen.Ident{RefID: "doc"}}},
		}},
		AttachmentList: []emisopen.Attachment{{
			CodedItem:      emisopen.CodedItem{Ident: emisopen.Ident{RefID: "doc"}, DisplayTerm: "Online consultation transcript"},
			Title:          "transcript.pdf",
			AttachmentData: "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK",
		}},
	}
}
