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
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/writeback-agent/wbagent/cmd/practicesim/contract"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
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

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness runs a simulator and checks every Partner API exchange against
// the contract: a response that breaks it fails the test, and so does a
// request that breaks it unless the test said it meant to send one.
type harness struct {
	t         *testing.T
	sim       *sim.Simulator
	base      string
	stateDir  string
	clock     *clock
	transport *contract.Transport
	client    *http.Client

	invalidRequestsExpected bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, stateDir: t.TempDir(), clock: &clock{t: time.Now()}}
	h.start("127.0.0.1:0")
	t.Cleanup(h.checkContract)
	return h
}

func (h *harness) start(addr string) {
	h.t.Helper()
	s, err := sim.New(sim.Config{StateDir: h.stateDir, Now: h.clock.now})
	if err != nil {
		h.t.Fatal(err)
	}
	base, err := s.Start(h.t.Context(), addr)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { s.Close() })
	v, err := contract.New(contract.IdentityProvider{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.sim, h.base = s, base
	if h.transport == nil {
		h.transport = v.Transport(nil)
		h.client = &http.Client{Transport: h.transport}
	}
}

// restart stops the simulator and starts a new one on the same address and
// state folder.
func (h *harness) restart() {
	h.t.Helper()
	addr := strings.TrimPrefix(h.base, "http://")
	if err := h.sim.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.start(addr)
}

func (h *harness) checkContract() {
	for _, v := range h.transport.Violations() {
		if v.Phase == contract.PhaseRequest && h.invalidRequestsExpected {
			continue
		}
		h.t.Errorf("contract violated: %v", v)
	}
}

func (h *harness) practice() *fixtures.Practice { return h.sim.Practice() }

// staff returns the first member of staff matching.
func (h *harness) staff(match func(fixtures.Staff) bool) fixtures.Staff {
	h.t.Helper()
	for _, s := range h.practice().Staff {
		if match(s) {
			return s
		}
	}
	h.t.Fatal("no such member of staff")
	return fixtures.Staff{}
}

func (h *harness) gp() fixtures.Staff {
	return h.staff(func(s fixtures.Staff) bool { return s.JobCategory.Doctor && !s.Locum })
}

func (h *harness) receptionist() fixtures.Staff {
	return h.staff(func(s fixtures.Staff) bool { return s.JobCategory == fixtures.Receptionist })
}

// registeredPatient returns a patient whose record accepts filings.
func (h *harness) registeredPatient() fixtures.Patient {
	return h.practice().Patients[0]
}

func (h *harness) desktopClient() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    idp.DesktopClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: h.base + "/authorize", TokenURL: h.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
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
	cc := clientcredentials.Config{ClientID: idp.ServiceClientID, ClientSecret: idp.ServiceClientSecret, TokenURL: h.base + "/oauth/token", Scopes: scopes}
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
	target := h.base + req.path
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

// admin calls the admin API and decodes its answer into out (if not nil).
func (h *harness) admin(method, path string, in, out any) int {
	h.t.Helper()
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	r, _ := http.NewRequest(method, h.base+path, body)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			h.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func (h *harness) setUser(userID int32, change map[string]any) {
	h.t.Helper()
	if status := h.admin("POST", "/admin/users/"+itoa(userID), change, nil); status != 200 {
		h.t.Fatalf("admin user change: status %d", status)
	}
}

func (h *harness) setApplication(active bool) {
	h.t.Helper()
	if status := h.admin("POST", "/admin/application", map[string]bool{"active": active}, nil); status != 200 {
		h.t.Fatalf("admin application change: status %d", status)
	}
}

func (h *harness) setFaults(latencyMs int, errorRate, timeoutAfterCommitRate float64) {
	h.t.Helper()
	body := map[string]any{"latencyMs": latencyMs, "errorRate": errorRate, "timeoutAfterCommitRate": timeoutAfterCommitRate}
	if status := h.admin("POST", "/admin/faults", body, nil); status != 200 {
		h.t.Fatalf("admin faults: status %d", status)
	}
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
