package emisx_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/outcome"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
)

var ctx = context.Background()

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08")

func filing(user string, p fixtures.Patient, guid string) *clinical.Filing {
	bp := 142.0
	return &clinical.Filing{
		ClinicalUserID: user, PatientID: strconv.Itoa(int(p.PatientNumber)), ConsultationGUID: guid,
		Date: time.Date(2026, 3, 29, 23, 30, 0, 0, time.UTC), PfsVisible: true,
		Summary: "Online consultation: headaches for two weeks.",
		Codes: []clinical.Code{
			{ConceptID: "25064002", Term: "Headache"},
			{ConceptID: "271649006", Term: "Systolic blood pressure", Value: &bp, Unit: "mm[Hg]"},
		},
		Attachments: []clinical.Attachment{bytesAttachment("photo.png", "image/png", png)},
	}
}

func TestFileFindAndReadBack(t *testing.T) {
	h := newHarness(t)
	user := h.link(h.GP())
	if err := h.client.Probe(ctx, user); err != nil {
		t.Fatalf("probe: %v", err)
	}
	want := h.Patient(fixtures.FirstPatientNumber)
	found, err := h.client.FindPatients(ctx, user, want.NHSNumber[:3]+" "+want.NHSNumber[3:])
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("found %d patients", len(found))
	}
	got := found[0]
	if got.ID != strconv.Itoa(int(want.PatientNumber)) || got.NHSNumber != want.NHSNumber || got.FamilyName != want.FamilyName ||
		got.GivenNames != want.GivenNames || got.DateOfBirth != want.DateOfBirth.Format(time.DateOnly) || got.Deceased || !got.Registered {
		t.Errorf("found %+v for %+v", got, want)
	}

	guid := clinical.ConsultationGUID(h.Fixtures().ODSCode, "job-1")
	c, err := h.client.File(ctx, filing(user, want, guid))
	if err != nil {
		t.Fatal(err)
	}
	if c.GUID != guid || c.ID == "" {
		t.Errorf("filed %+v", c)
	}
	again, err := h.client.FindConsultation(ctx, user, got.ID, strings.ToUpper(guid))
	if err != nil || again.ID != c.ID {
		t.Errorf("FindConsultation = %+v, %v; want id %s", again, err, c.ID)
	}

	all := h.Consultations()
	if len(all) != 1 {
		t.Fatalf("%d consultations filed", len(all))
	}
	fc := all[0]
	cons := fc.Record.ConsultationList[0]
	if fc.GUID != guid || fc.PatientNumber != want.PatientNumber || strconv.Itoa(int(fc.UserID)) != user ||
		!cons.PfsVisible || !cons.PfsVisibleSpecified || len(cons.ElementList) != 4 {
		t.Errorf("consultation %+v", fc)
	}
	if cons.AssignedDate != "30/03/2026" { // 23:30 UTC on 29 March 2026 is 00:30 BST on the 30th
		t.Errorf("assigned date %s", cons.AssignedDate)
	}
	wantEvents := []simtest.FiledEvent{
		{Text: "Online consultation: headaches for two weeks."},
		{Code: "25064002", Scheme: emisopen.SchemeSnomed, Term: "Headache"},
		{Code: "271649006", Scheme: emisopen.SchemeSnomed, Term: "Systolic blood pressure", Value: 142, Units: "mm[Hg]"},
	}
	if ev := simtest.FiledEvents(t, fc); !slices.Equal(ev, wantEvents) || fc.Record.EventList[0].Code != nil {
		t.Errorf("events %+v, want %+v", ev, wantEvents)
	}
	at := fc.Record.AttachmentList
	if len(at) != 1 || at[0].Title != "photo.png" || at[0].AttachmentData != base64.StdEncoding.EncodeToString(png) || !at[0].PfsVisible {
		t.Errorf("attachments %+v", at)
	}

	_, err = h.client.File(ctx, filing(user, want, guid))
	if !errors.Is(err, clinical.ErrDuplicateConsultation) {
		t.Errorf("filing the GUID again: %v", err)
	}
}

func TestFindPatientsReadsRegistration(t *testing.T) {
	h := newHarness(t)
	user := h.link(h.GP())
	hc := h.Fixtures().HardCases
	tests := []struct {
		name                 string
		number               int32
		deceased, registered bool
	}{
		{"deceased", hc.Deceased[0], true, false},
		{"deregistered", hc.Deregistered[0], false, false},
		{"apostrophe", hc.Apostrophe[0], false, true},
		{"accent", hc.Accent[0], false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := h.Patient(tt.number)
			if p.NHSNumber == "" {
				t.Skip("hard case without an NHS number")
			}
			found, err := h.client.FindPatients(ctx, user, p.NHSNumber)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 1 || found[0].FamilyName != p.FamilyName || found[0].Deceased != tt.deceased || found[0].Registered != tt.registered {
				t.Errorf("found %+v; want %s deceased %t registered %t", found, p.FamilyName, tt.deceased, tt.registered)
			}
		})
	}
	found, err := h.client.FindPatients(ctx, user, "4000000020") // valid, not at the practice
	if err != nil || len(found) != 0 {
		t.Errorf("unknown NHS number: %v, %v", found, err)
	}
	if _, err := h.client.FindPatients(ctx, user, "40000(0002"); !errors.Is(err, clinical.ErrBadRequest) {
		t.Errorf("malformed NHS number: %v", err)
	}
}

func TestFindConsultationThatIsNotThere(t *testing.T) {
	h := newHarness(t)
	user := h.link(h.GP())
	p := strconv.Itoa(fixtures.FirstPatientNumber)
	_, err := h.client.FindConsultation(ctx, user, p, clinical.ConsultationGUID("A12345", "never-filed"))
	var ce *clinical.Error
	if !errors.As(err, &ce) || ce.Kind != clinical.ErrConsultationNotFound || ce.Op != "GetMedicalRecord" {
		t.Errorf("got %v; want consultation-not-found confirmed by GetMedicalRecord", err)
	}
	_, err = h.client.FindConsultation(ctx, user, "999", clinical.ConsultationGUID("A12345", "never-filed"))
	if !errors.Is(err, clinical.ErrPatientNotFound) {
		t.Errorf("unknown patient: %v", err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	type setup struct {
		h    *harness
		user string
		gp   fixtures.Staff
	}
	probe := func(s setup) error { return s.h.client.Probe(ctx, s.user) }
	file := func(number int32) func(setup) error {
		return func(s setup) error {
			_, err := s.h.client.File(ctx, filing(s.user, s.h.Patient(number), clinical.ConsultationGUID("A12345", "job")))
			return err
		}
	}
	tests := []struct {
		name           string
		arrange        func(s setup)
		act            func(s setup) error
		config         func(*emisx.Config)
		kind           clinical.Kind
		cause          string
		outcomeUnknown bool
	}{
		{name: "not linked", arrange: func(s setup) { s.h.sessions.Unlink(s.user) }, act: probe, kind: clinical.ErrNotLinked},
		{name: "application deactivated", arrange: func(s setup) { s.h.SetApplicationActive(false) }, act: probe, kind: clinical.ErrApplicationNotActivated},
		{name: "application unknown", config: func(c *emisx.Config) { c.ApplicationID = "00000000-0000-0000-0000-000000000000" }, act: probe,
			kind: clinical.ErrApplicationNotActivated, cause: "application-unknown"},
		{name: "Edit Users cleared", arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{Enabled: new(false)}) }, act: probe,
			kind: clinical.ErrNoLoginAccess, cause: "user-not-enabled"},
		{name: "Allow Login cleared", arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{AllowLogin: new(false)}) }, act: probe,
			kind: clinical.ErrNoLoginAccess, cause: "login-not-allowed"},
		{name: "Auto Login cleared", arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{AutoLogin: new(false)}) }, act: probe,
			kind: clinical.ErrNoLoginAccess, cause: "auto-login-not-allowed"},
		{name: "account disabled", arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{Active: new(false)}) }, act: probe,
			kind: clinical.ErrNoLoginAccess, cause: "user-inactive"},
		{name: "access granted after signing in", arrange: func(s setup) {
			s.h.SetUser(s.gp, emas.Change{AllowLogin: new(false)})
			s.h.SetUser(s.gp, emas.Change{AllowLogin: new(true)})
		}, act: probe, kind: clinical.ErrRelinkNeeded, cause: "session-predates-access-change"},
		{name: "role that cannot file", arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{Role: new(emas.RoleReceptionist)}) },
			act: file(fixtures.FirstPatientNumber), kind: clinical.ErrInsufficientRole},
		{name: "user id not in EMIS", act: func(s setup) error { return s.h.client.Probe(ctx, "99999") }, arrange: func(s setup) {
			gp := s.gp
			if err := s.h.sessions.SignIn(ctx, "99999", gp.Username, gp.Password); err != nil {
				s.h.t.Fatal(err)
			}
		}, kind: clinical.ErrUserNotFound},
		{name: "user id not an EMIS id", act: func(s setup) error { return s.h.client.Probe(ctx, "G8123456") }, kind: clinical.ErrUserNotFound, cause: "id-not-numeric"},
		{name: "another practice", config: func(c *emisx.Config) { c.PracticeODS = "Z99999" }, act: probe, kind: clinical.ErrWrongPractice},
		{name: "server error on a read", arrange: func(s setup) { s.h.SetFaults(faults.Settings{ErrorRate: 1}) }, act: probe, kind: clinical.ErrTransient},
		{name: "server error on FileRecord", arrange: func(s setup) { s.h.SetFaults(faults.Settings{ErrorRate: 1}) }, act: file(fixtures.FirstPatientNumber),
			kind: clinical.ErrTransient, outcomeUnknown: true},
		{name: "connection dropped after FileRecord committed", arrange: func(s setup) { s.h.SetFaults(faults.Settings{TimeoutAfterCommitRate: 1}) }, act: file(fixtures.FirstPatientNumber),
			kind: clinical.ErrTransient, outcomeUnknown: true},
		{name: "timeout", arrange: func(s setup) { s.h.SetFaults(faults.Settings{LatencyMs: 2000}) }, act: func(s setup) error {
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := s.h.client.File(c, filing(s.user, s.h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", "job")))
			return err
		}, kind: clinical.ErrTransient, outcomeUnknown: true},
		{name: "filing not permitted", act: func(s setup) error {
			f := filing(s.user, s.h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", "job"))
			f.Summary, f.Codes, f.Attachments = "", nil, nil
			_, err := s.h.client.File(ctx, f)
			return err
		}, kind: clinical.ErrBadRequest, cause: "filing-not-permitted"},
		{name: "attachment that cannot be read to its end", act: func(s setup) error {
			f := filing(s.user, s.h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", "job"))
			f.Attachments[0].Open = func() (io.ReadCloser, error) {
				return io.NopCloser(&failAfter{r: bytes.NewReader(png), n: 4, err: errors.New("tampered with")}), nil
			}
			_, err := s.h.client.File(ctx, f)
			if n := len(s.h.Consultations()); n != 0 {
				s.h.t.Errorf("%d consultations filed", n)
			}
			return err
		}, kind: clinical.ErrTransient, cause: clinical.CauseAttachmentUnreadable, outcomeUnknown: true},
		{name: "unknown patient", act: func(s setup) error {
			f := filing(s.user, s.h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", "job"))
			f.PatientID = "999"
			_, err := s.h.client.File(ctx, f)
			return err
		}, kind: clinical.ErrPatientNotFound},
		{name: "deregistered patient", act: func(s setup) error { return file(s.h.Fixtures().HardCases.Deregistered[0])(s) },
			kind: clinical.ErrPatientNotRegistered},
		{name: "outcome number not configured", config: func(c *emisx.Config) {
			c.Outcomes = emisx.DefaultLegacyOutcomes()
			c.Outcomes.LoginNotAllowed = 0
		}, arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{AllowLogin: new(false)}) }, act: probe, kind: clinical.ErrAccessDenied},
		{name: "expired token told by its issue type", config: func(c *emisx.Config) {
			c.Outcomes = emisx.DefaultLegacyOutcomes()
			c.Outcomes.TokenExpired = 0
			c.Sessions = bareSessions{c.Sessions}
		}, arrange: func(s setup) { s.h.Clock.Advance(2 * time.Hour) }, act: probe, kind: clinical.ErrTokenExpired},
		{name: "outcome numbers moved", config: func(c *emisx.Config) {
			c.Outcomes = emisx.DefaultLegacyOutcomes()
			c.Outcomes.LoginNotAllowed, c.Outcomes.AutoLoginNotAllowed = 3004, 3003
		}, arrange: func(s setup) { s.h.SetUser(s.gp, emas.Change{AllowLogin: new(false)}) }, act: probe,
			kind: clinical.ErrNoLoginAccess, cause: "auto-login-not-allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			if tt.config != nil {
				h = newHarness(t, tt.config)
			} else {
				h = newHarness(t)
			}
			s := setup{h: h, gp: h.GP()}
			s.user = h.link(s.gp)
			if tt.arrange != nil {
				tt.arrange(s)
			}
			err := tt.act(s)
			var ce *clinical.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T), want a *clinical.Error", err, err)
			}
			if ce.Kind != tt.kind || ce.Cause != tt.cause || ce.OutcomeUnknown != tt.outcomeUnknown {
				t.Errorf("got %v (kind %s, cause %q, outcome unknown %t); want kind %s, cause %q, outcome unknown %t",
					err, ce.Kind, ce.Cause, ce.OutcomeUnknown, tt.kind, tt.cause, tt.outcomeUnknown)
			}
		})
	}
}

func TestAmbiguousFilingIsFoundByItsGUID(t *testing.T) {
	h := newHarness(t)
	user := h.link(h.GP())
	p := h.Patient(fixtures.FirstPatientNumber)
	guid := clinical.ConsultationGUID("A12345", "dropped")
	h.SetFaults(faults.Settings{TimeoutAfterCommitRate: 1})
	if _, err := h.client.File(ctx, filing(user, p, guid)); !errors.Is(err, clinical.ErrTransient) {
		t.Fatalf("File: %v", err)
	}
	h.SetFaults(faults.Settings{})
	c, err := h.client.FindConsultation(ctx, user, strconv.Itoa(int(p.PatientNumber)), guid)
	if err != nil || c.GUID != guid || c.ID == "" {
		t.Errorf("FindConsultation = %+v, %v", c, err)
	}
}

// bareSessions hides the store's ExpireToken.
type bareSessions struct{ emisx.Sessions }

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t)
	user := h.link(h.GP())

	h.Clock.Advance(2 * time.Hour) // past the access token, within the session
	if err := h.client.Probe(ctx, user); err != nil {
		t.Errorf("after the access token expired: %v; want a refresh and success", err)
	}

	bare, err := emisx.New(emisx.Config{BaseURL: h.URL, ApplicationID: sim.ApplicationID, Sessions: bareSessions{h.sessions},
		HTTPClient: h.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	h.Clock.Advance(2 * time.Hour)
	if err := bare.Probe(ctx, user); !errors.Is(err, clinical.ErrTokenExpired) {
		t.Errorf("without ExpireToken: %v; want token-expired", err)
	}

	h.Clock.Advance(48 * time.Hour) // past the session: the refresh is refused
	err = h.client.Probe(ctx, user)
	var ce *clinical.Error
	if !errors.As(err, &ce) || ce.Kind != clinical.ErrRelinkNeeded || ce.Cause != "refresh-refused" {
		t.Errorf("after the session ended: %v; want relink-needed (refresh-refused)", err)
	}
}

func TestDefaultLegacyOutcomesAreTheSimulators(t *testing.T) {
	names := map[string]string{"OperationNotSupported": "OperationNotSimulated"} // ours → the simulator's
	d := reflect.ValueOf(emisx.DefaultLegacyOutcomes())
	sims := map[string]int32{}
	for _, c := range outcome.All {
		sims[c.String()] = int32(c)
	}
	if d.NumField() != len(sims) {
		t.Errorf("%d outcomes configured, the simulator has %d", d.NumField(), len(sims))
	}
	for i := range d.NumField() {
		name := d.Type().Field(i).Name
		if n, ok := names[name]; ok {
			name = n
		}
		if got, want := int32(d.Field(i).Int()), sims[name]; got != want {
			t.Errorf("%s = %d, the simulator's is %d", name, got, want)
		}
	}
}

func TestConfigIsChecked(t *testing.T) {
	s := bareSessions{}
	dup := emisx.DefaultLegacyOutcomes()
	dup.TokenExpired = dup.TokenInvalid
	tests := []struct {
		name string
		cfg  emisx.Config
	}{
		{"no base URL", emisx.Config{ApplicationID: "x", Sessions: s}},
		{"not http", emisx.Config{BaseURL: "ftp://x", ApplicationID: "x", Sessions: s}},
		{"no application id", emisx.Config{BaseURL: "https://x", Sessions: s}},
		{"no sessions", emisx.Config{BaseURL: "https://x", ApplicationID: "x"}},
		{"one number, two meanings", emisx.Config{BaseURL: "https://x", ApplicationID: "x", Sessions: s, Outcomes: dup}},
	}
	for _, tt := range tests {
		if _, err := emisx.New(tt.cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestLinkConfigSignsInWithPKCE(t *testing.T) {
	h := newHarness(t)
	gp := h.GP()
	cfg := emisx.LinkConfig(emisx.Endpoint(h.URL+"/"), idp.DesktopClientID, "http://127.0.0.1:49152/callback")
	verifier := oauth2.GenerateVerifier()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	location := func(resp *http.Response, err error) *url.URL {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("%s answered %d without a redirect", resp.Request.URL.Path, resp.StatusCode)
		}
		return loc
	}
	login := location(browser.Get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))))
	callback := location(browser.PostForm(h.URL+"/login", url.Values{
		"authRequestID": {login.Query().Get("authRequestID")}, "username": {gp.Username}, "password": {gp.Password}}))
	back := location(browser.Get(callback.String()))
	if back.Host != "127.0.0.1:49152" || back.Query().Get("state") != "st4te" {
		t.Fatalf("redirected to %s", back.Redacted())
	}
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token: offline_access not granted")
	}
	client, err := emisx.New(emisx.Config{BaseURL: h.URL, ApplicationID: sim.ApplicationID,
		Sessions: staticSessions{tok}, HTTPClient: h.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Probe(ctx, strconv.Itoa(int(gp.UserInRoleID))); err != nil {
		t.Errorf("probe with the linked token: %v", err)
	}
}

type staticSessions struct{ tok *oauth2.Token }

func (s staticSessions) TokenSource(context.Context, string) (oauth2.TokenSource, error) {
	return oauth2.StaticTokenSource(s.tok), nil
}

func TestErrorsCarryNoPatientData(t *testing.T) {
	h := newHarness(t)
	user := h.link(h.GP())
	p := h.Patient(fixtures.FirstPatientNumber)
	h.Close() // every call now fails in the transport, whose errors name the URL
	var errs []error
	_, err := h.client.FindPatients(ctx, user, p.NHSNumber)
	errs = append(errs, err)
	_, err = h.client.File(ctx, filing(user, p, clinical.ConsultationGUID("A12345", "job")))
	errs = append(errs, err)
	_, err = h.client.FindConsultation(ctx, user, strconv.Itoa(int(p.PatientNumber)), clinical.ConsultationGUID("A12345", "job"))
	errs = append(errs, err)
	for _, err := range errs {
		if !errors.Is(err, clinical.ErrTransient) {
			t.Errorf("%v: want transient", err)
			continue
		}
		for _, secret := range []string{p.NHSNumber, strconv.Itoa(int(p.PatientNumber)), p.FamilyName, "headaches", "matchedTerms", "patientNumber"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes %q", err, secret)
			}
		}
	}
}
