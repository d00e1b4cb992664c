package admin_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/admin"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/records"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the answers given now")

// exchange is one admin API request whose answer is held in a golden file.
type exchange struct {
	name         string // the golden file: testdata/NAME.golden
	method, path string
	body         string
}

// exchanges cover every route and each kind of error answer.
var exchanges = []exchange{
	{"info", "GET", "/admin/info", ""},
	{"application", "GET", "/admin/application", ""},
	{"application-set", "POST", "/admin/application", `{"active": false}`},
	{"application-set-empty", "POST", "/admin/application", `{}`},
	{"users", "GET", "/admin/users", ""},
	{"user", "GET", "/admin/users/jbloggs", ""},
	{"user-set", "POST", "/admin/users/jbloggs", `{"allowLogin": false, "role": "Receptionist Access Role"}`},
	{"user-set-empty-role", "POST", "/admin/users/jbloggs", `{"role": ""}`},
	{"user-set-unknown-field", "POST", "/admin/users/jbloggs", `{"colour": "red"}`},
	{"user-unknown", "POST", "/admin/users/nobody", `{"enabled": true}`},
	{"patients", "GET", "/admin/patients", ""},
	{"consultations", "GET", "/admin/consultations", ""},
	{"faults", "GET", "/admin/faults", ""},
	{"faults-set", "POST", "/admin/faults", `{"latencyMs": 5, "errorRate": 0.25, "timeoutAfterCommitRate": 0.5}`},
	{"faults-set-invalid", "POST", "/admin/faults", `{"errorRate": 2}`},
	{"not-found", "GET", "/admin/nothing-here", ""},
}

// TestAnswersAreUnchanged holds every admin API answer, status, media type and body to the
// byte, to a golden file recorded before the API's types were shared with its client
// (package adminclient): tests outside this repository rely on these shapes. Each exchange
// runs against a fresh handler. go test -update rewrites the files; a change to them is a
// change to a published contract (docs/practicesim.md).
func TestAnswersAreUnchanged(t *testing.T) {
	for _, ex := range exchanges {
		t.Run(ex.name, func(t *testing.T) {
			got := serve(t, newHandler(t), ex)
			path := filepath.Join("testdata", ex.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s answered\n%s\nwant (%s)\n%s", ex.method, ex.path, got, path, want)
			}
		})
	}
}

// TestAnswersHaveTheDocumentedFields checks the fields of each answer, and of the request
// types the client sends, against the admin API table of docs/practicesim.md.
func TestAnswersHaveTheDocumentedFields(t *testing.T) {
	doc := adminTable(t)
	tests := []struct {
		row  string // the table row's request
		keys []string
	}{
		{"GET /admin/application", objectKeys(t, serveBody(t, "GET", "/admin/application", ""))},
		{"POST /admin/application", objectKeys(t, serveBody(t, "POST", "/admin/application", `{"active": true}`))},
		{"GET /admin/users", objectKeys(t, firstOf(t, serveBody(t, "GET", "/admin/users", "")))},
		{"GET /admin/users", objectKeys(t, serveBody(t, "GET", "/admin/users/jbloggs", ""))},
		{"GET /admin/users", objectKeys(t, serveBody(t, "POST", "/admin/users/jbloggs", `{"active": true}`))},
		{"POST /admin/users/{userId}", objectKeys(t, marshal(t, emas.Change{}))},
		{"GET /admin/patients", objectKeys(t, firstOf(t, serveBody(t, "GET", "/admin/patients", "")))},
		{"GET /admin/consultations", objectKeys(t, firstOf(t, serveBody(t, "GET", "/admin/consultations", "")))},
		{"POST /admin/faults", objectKeys(t, serveBody(t, "GET", "/admin/faults", ""))},
		{"POST /admin/faults", objectKeys(t, marshal(t, faults.Settings{}))},
	}
	for _, tt := range tests {
		want, ok := doc[tt.row]
		if !ok {
			t.Fatalf("docs/practicesim.md has no admin API row %q", tt.row)
		}
		slices.Sort(tt.keys)
		if !slices.Equal(tt.keys, want) {
			t.Errorf("%s: fields %v, documented %v", tt.row, tt.keys, want)
		}
	}
}

// newHandler returns an admin handler over a small practice of two staff and two patients,
// with one filed consultation and a fixed clock.
func newHandler(t *testing.T) *admin.Handler {
	t.Helper()
	filedAt := time.Date(2026, 3, 30, 9, 15, 0, 0, time.UTC)
	practice := &fixtures.Practice{
		Name: "Riverside Medical Practice", ODSCode: "B86042", CDB: "12345",
		Staff: []fixtures.Staff{
			{UserInRoleID: 10001, Username: "jbloggs", Password: "sim-jbloggs", Title: "Dr", GivenName: "Joe", FamilyName: "Bloggs",
				JobCategory: fixtures.GeneralPractitioner, Role: emas.RoleManageDetailedHealthRecords},
			{UserInRoleID: 10002, Username: "asmith", Password: "sim-asmith", GivenName: "Ann", FamilyName: "Smith",
				JobCategory: fixtures.GeneralPractitioner, Locum: true, Role: emas.RoleManageDetailedHealthRecords},
		},
		Patients: []fixtures.Patient{
			{PatientNumber: 500001, NHSNumber: "9990000018", GivenNames: "Zoë Anne", FamilyName: "O'Brien",
				DateOfBirth: time.Date(1980, 2, 29, 0, 0, 0, 0, time.UTC), Sex: "F", Registered: true},
			{PatientNumber: 500002, GivenNames: "Tom", FamilyName: "Smith-Jones",
				DateOfBirth: time.Date(1931, 12, 1, 0, 0, 0, 0, time.UTC), Sex: "M", Deceased: true},
		},
	}
	initial := map[int32]emas.Access{}
	for _, s := range practice.Staff {
		initial[s.UserInRoleID] = emas.FullAccess(s.Role)
	}
	access, err := emas.Open("", initial, 24*time.Hour, func() time.Time { return filedAt })
	if err != nil {
		t.Fatal(err)
	}
	store, err := records.Open("")
	if err != nil {
		t.Fatal(err)
	}
	snomed := emisopen.SchemeSnomed
	if _, err := store.Add(records.Consultation{
		PatientNumber: 500001, GUID: "0b9a2f7e-5d1c-4b3a-8e6f-9c0d1e2f3a4b", FiledAt: filedAt, UserID: 10001, ApplicationID: "app",
		Record: emisopen.MedicalRecord{
			ConsultationList: []emisopen.Consultation{{
				Ident: emisopen.Ident{GUID: "0b9a2f7e-5d1c-4b3a-8e6f-9c0d1e2f3a4b"}, AssignedDate: "30/03/2026",
				PfsVisible: true, PfsVisibleSpecified: true,
				ElementList: []emisopen.Element{{Item: &emisopen.Ident{RefID: "1"}}, {Item: &emisopen.Ident{RefID: "2"}}},
			}},
			EventList: []emisopen.Event{{CodedItem: emisopen.CodedItem{
				Ident: emisopen.Ident{RefID: "1"},
				Code:  &emisopen.StringCode{Value: "271649006", Scheme: &snomed, SchemeSpecified: true, Term: "Systolic blood pressure"},
			}, NumericValue: json.RawMessage(`{"value":142,"valueSpecified":true,"units":"mm[Hg]"}`)}},
			AttachmentList: []emisopen.Attachment{{
				CodedItem: emisopen.CodedItem{Ident: emisopen.Ident{RefID: "2"}, DisplayTerm: "Photo"},
				Title:     "photo.png", AttachmentData: "iVBORw0KGgo=",
			}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	return admin.New(admin.Config{
		Info: admin.Info{
			ApplicationID: "app", DesktopClientID: "wbagent", ServiceClientID: "wbagent-service", ServiceClientSecret: "secret",
			Scopes: []string{"openid", "papi-cr.write"}, TokenLifetime: "1h0m0s",
			PracticeName: practice.Name, ODSCode: practice.ODSCode, CDB: practice.CDB,
		},
		Practice: practice, Access: access, Records: store, Faults: faults.New(1),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// serve answers one exchange as "STATUS Content-Type", a blank line and the body.
func serve(t *testing.T, h http.Handler, ex exchange) []byte {
	t.Helper()
	var body io.Reader
	if ex.body != "" {
		body = strings.NewReader(ex.body)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(ex.method, ex.path, body))
	return fmt.Appendf(nil, "%d %s\n\n%s", w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
}

// serveBody answers one request, which must succeed, on a fresh handler and returns the body.
func serveBody(t *testing.T, method, path, body string) []byte {
	t.Helper()
	var in io.Reader
	if body != "" {
		in = strings.NewReader(body)
	}
	w := httptest.NewRecorder()
	newHandler(t).ServeHTTP(w, httptest.NewRequest(method, path, in))
	if w.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
	}
	return w.Body.Bytes()
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// firstOf returns the first element of a JSON array.
func firstOf(t *testing.T, data []byte) []byte {
	t.Helper()
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil || len(list) == 0 {
		t.Fatalf("want a non-empty list, got %s (%v)", data, err)
	}
	return list[0]
}

// objectKeys returns the names of a JSON object's members.
func objectKeys(t *testing.T, data []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("want an object, got %s (%v)", data, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// adminTable reads the "Admin API" table of docs/practicesim.md: for each request whose
// row gives an object in braces, the sorted names of its members.
func adminTable(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "practicesim.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Admin API\n")
	if !ok {
		t.Fatal("docs/practicesim.md has no Admin API section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string][]string{}
	for line := range strings.SplitSeq(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		request := strings.Trim(strings.TrimSpace(cells[1]), "`")
		_, object, ok := strings.Cut(cells[2], "{")
		if !ok {
			continue
		}
		object, _, _ = strings.Cut(object, "}")
		var keys []string
		for member := range strings.SplitSeq(object, ",") {
			name, _, _ := strings.Cut(member, ":")
			keys = append(keys, strings.Trim(strings.TrimSpace(name), `"`))
		}
		slices.Sort(keys)
		rows[request] = keys
	}
	return rows
}
