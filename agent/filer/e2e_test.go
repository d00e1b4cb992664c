package filer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx/emisxtest"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emas"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/emisopen"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/simtest"
	"github.com/writeback-agent/wbagent/docs"
)

// practice is a simulated practice and the EMIS-X adapter talking to it. Every request the
// adapter sends, and every answer, is checked against the Partner API document.
type practice struct {
	*simtest.Practice
	t         *testing.T
	sessions  *emisxtest.Sessions
	client    *emisx.Client
	duplicate atomic.Int64 // FileRecord answers refusing a duplicate GUID
}

func newPractice(t *testing.T) *practice {
	t.Helper()
	p := &practice{t: t, Practice: simtest.Start(t, simtest.SessionLifetime(24*time.Hour))}
	p.sessions = emisxtest.NewSessions(emisx.LinkConfig(emisx.Endpoint(p.URL), idp.DesktopClientID, "http://127.0.0.1/callback"))
	var err error
	p.client, err = emisx.New(emisx.Config{
		BaseURL: p.URL, ApplicationID: sim.ApplicationID, Sessions: p.sessions, PracticeODS: p.ods(),
		HTTPClient: &http.Client{Transport: duplicateCounter{p.Transport, &p.duplicate}, Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// duplicateCounter counts the FileRecord answers that refuse a duplicate consultation GUID.
type duplicateCounter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (d duplicateCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/FileRecord") && resp.StatusCode == http.StatusBadRequest {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"legacyOutcome":4005`)) {
			d.n.Add(1)
		}
	}
	return resp, err
}

func (p *practice) ods() string { return p.Fixtures().ODSCode }

func (p *practice) link(s fixtures.Staff) string {
	p.t.Helper()
	id := strconv.Itoa(int(s.UserInRoleID))
	if err := p.sessions.SignIn(p.t.Context(), id, s.Username, s.Password); err != nil {
		p.t.Fatal(err)
	}
	return id
}

// exampleFor returns the published example writeback, as JSON, made out to a patient and
// author of the simulated practice.
func exampleFor(t *testing.T, ods, job, author string, pt fixtures.Patient, family string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(docs.ExampleWriteback, &m); err != nil {
		t.Fatal(err)
	}
	m["jobId"], m["practiceOds"] = job, ods
	m["author"].(map[string]any)["clinicalUserId"] = author
	patient := m["patient"].(map[string]any)
	patient["nhsNumber"], patient["familyName"], patient["givenNames"] = pt.NHSNumber, family, pt.GivenNames
	patient["dateOfBirth"] = pt.DateOfBirth.Format(time.DateOnly)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// enqueueJSON decodes a writeback document as the platform link does, its attachments
// streamed into the queue's stage, and queues it.
func (f *fixture) enqueueJSON(data []byte) uint64 {
	f.t.Helper()
	stage := f.q.NewStage()
	w, err := writeback.Decode(bytes.NewReader(data), stage)
	if err != nil {
		stage.Discard()
		f.t.Fatal(err)
	}
	res, err := f.q.Enqueue(ctx, queue.Submission{Doc: w, Stage: stage}, queue.Actor{Component: "source"})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.ID
}

func practiceFixture(t *testing.T, p *practice, opt options) *fixture {
	t.Helper()
	prev := opt.config
	opt.config = func(c *filer.Config) {
		c.Checks = checks.DefaultPolicy(p.ods())
		if prev != nil {
			prev(c)
		}
	}
	return newFixture(t, p.client, opt)
}

func TestEndToEndFromJSONToTheRecord(t *testing.T) {
	p := newPractice(t)
	f := practiceFixture(t, p, options{})
	gp := p.Filers()[0]
	author := p.link(gp)
	pt := p.PlainPatients()[0]
	id := f.enqueueJSON(exampleFor(t, p.ods(), "ocp:job.1", author, pt, pt.FamilyName))
	f.confirm(id, true)
	r := f.waitState(id, queue.Filed)

	all := p.Consultations()
	if len(all) != 1 {
		t.Fatalf("%d consultations in the record", len(all))
	}
	c := all[0]
	if c.GUID != clinical.ConsultationGUID(p.ods(), "ocp:job.1") || r.ConsultationGUID != c.GUID ||
		r.ConsultationID == "" || r.ConsultationID != c.Record.ConsultationList[0].DBID {
		t.Errorf("record filed as %s/%s; the practice has %s/%s", r.ConsultationGUID, r.ConsultationID, c.GUID, c.Record.ConsultationList[0].DBID)
	}
	if c.PatientNumber != pt.PatientNumber || strconv.Itoa(int(c.UserID)) != author || !c.Record.ConsultationList[0].PfsVisible {
		t.Errorf("filed for patient %d by %d, visible %t", c.PatientNumber, c.UserID, c.Record.ConsultationList[0].PfsVisible)
	}
	var example writeback.Writeback
	json.Unmarshal(docs.ExampleWriteback, &example)
	wantEvents := []simtest.FiledEvent{
		{Text: example.Summary},
		{Code: "25064002", Scheme: emisopen.SchemeSnomed, Term: "Headache"},
		{Code: "271649006", Scheme: emisopen.SchemeSnomed, Term: "Systolic blood pressure", Value: 142, Units: "mm[Hg]"},
	}
	if ev := simtest.FiledEvents(t, c); !slices.Equal(ev, wantEvents) {
		t.Errorf("events %+v, want %+v", ev, wantEvents)
	}
	if at := c.Record.AttachmentList; len(at) != 1 || at[0].Title != "photo.png" || at[0].AttachmentData != example.Attachments[0].DataBase64 {
		t.Errorf("attachments %+v", at)
	}
	f.assertNoPatientData()
}

func TestHardCasesAgainstThePractice(t *testing.T) {
	p := newPractice(t)
	f := practiceFixture(t, p, options{})
	author := p.link(p.Filers()[0])
	pr := p.Fixtures()
	hc := pr.HardCases
	patient := func(n int32) fixtures.Patient {
		pt, _ := pr.Patient(n)
		return *pt
	}
	withNHS := func(ns []int32) fixtures.Patient {
		for _, n := range ns {
			if pt := patient(n); pt.NHSNumber != "" {
				return pt
			}
		}
		t.Fatal("no such hard case with an NHS number")
		return fixtures.Patient{}
	}
	byFamily := func(pred func(string) bool) (fixtures.Patient, bool) {
		for _, pt := range p.PlainPatients() {
			if pred(pt.FamilyName) {
				return pt, true
			}
		}
		return fixtures.Patient{}, false
	}
	obrien, _ := byFamily(func(s string) bool { return s == "O'Brien" })
	smithJones, _ := byFamily(func(s string) bool { return s == "Smith-Jones" })
	plain := p.PlainPatients()[0]
	tests := []struct {
		name   string
		pt     fixtures.Patient
		family string
		dob    string
		want   queue.State
		code   string
	}{
		{name: "curly apostrophe", pt: obrien, family: "O’Brien", want: queue.NeedsConfirmation},
		{name: "upper case and a Unicode hyphen", pt: smithJones, family: "SMITH‐JONES", want: queue.NeedsConfirmation},
		{name: "apostrophe left out", pt: obrien, family: "OBrien", want: queue.NeedsAttention, code: checks.CodeSurnameMismatch},
		{name: "date of birth a day out", pt: plain, dob: plain.DateOfBirth.AddDate(0, 0, 1).Format(time.DateOnly), want: queue.NeedsAttention, code: checks.CodeDOBMismatch},
		{name: "deceased", pt: withNHS(hc.Deceased), want: queue.NeedsAttention, code: checks.CodePatientDeceased},
		{name: "deregistered", pt: withNHS(hc.Deregistered), want: queue.NeedsAttention, code: checks.CodePatientNotRegistered},
	}
	if accented, ok := byFamily(func(s string) bool {
		return strings.IndexFunc(s, func(r rune) bool { return r > unicode.MaxASCII }) >= 0
	}); ok {
		tests = append(tests, struct {
			name   string
			pt     fixtures.Patient
			family string
			dob    string
			want   queue.State
			code   string
		}{name: "accents left out", pt: accented, family: foldAccents(accented.FamilyName), want: queue.NeedsConfirmation})
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			family := tt.family
			if family == "" {
				family = tt.pt.FamilyName
			}
			data := exampleFor(t, p.ods(), "hard-"+strconv.Itoa(i), author, tt.pt, family)
			if tt.dob != "" {
				data = bytes.Replace(data, []byte(tt.pt.DateOfBirth.Format(time.DateOnly)), []byte(tt.dob), 1)
			}
			r := f.waitState(f.enqueueJSON(data), tt.want)
			if tt.code != "" && (r.Reason == nil || r.Reason.Code != tt.code) {
				t.Errorf("reason %+v, want %s", r.Reason, tt.code)
			}
		})
	}
}

func foldAccents(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestFaultsFileEveryWritebackExactlyOnce files 500 writebacks while 30% of Partner API
// calls fail with a server error and 30% of filings are committed and then go unanswered.
func TestFaultsFileEveryWritebackExactlyOnce(t *testing.T) {
	const n = 500
	p := newPractice(t)
	confirmations := make(chan uint64, n)
	f := practiceFixture(t, p, options{
		retry: queue.RetryPolicy{Initial: time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, Jitter: 0.5, MaxAttempts: 100},
		config: func(c *filer.Config) {
			c.Workers, c.Lease = 4, 30*time.Second
			c.Reprobe = queue.RetryPolicy{Initial: 2 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, Jitter: 0.5}
			c.CheckRetry = queue.RetryPolicy{Initial: time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, Jitter: 0.5}
		},
		onChange: func(_ *queue.Queue, changes []queue.Change) {
			for _, c := range changes {
				if c.State == queue.NeedsConfirmation {
					confirmations <- c.ID
				}
			}
		},
	})
	go func() { // the clinicians confirm each writeback as it is checked
		for {
			select {
			case id := <-confirmations:
				_, err := f.q.Confirm(ctx, id, queue.ConfirmOptions{PfsVisible: id%2 == 0}, queue.Actor{Component: "test"})
				if err != nil && t.Context().Err() == nil {
					t.Errorf("confirm %d: %v", id, err)
				}
			case <-t.Context().Done():
				return
			}
		}
	}()

	var authors []string
	for _, s := range p.Filers() {
		authors = append(authors, p.link(s))
	}
	p.SetFaults(faults.Settings{LatencyMs: 1, ErrorRate: 0.3, TimeoutAfterCommitRate: 0.3})

	patients := p.PlainPatients()
	start := time.Now()
	want := map[string]bool{}
	var subs []queue.Submission
	for i := range n {
		pt := patients[i%len(patients)]
		w := doc(fmt.Sprintf("fault-%03d", i), authors[i%len(authors)])
		w.PracticeODS = p.ods()
		w.Patient = writeback.Patient{NHSNumber: pt.NHSNumber, FamilyName: pt.FamilyName, GivenNames: pt.GivenNames,
			DateOfBirth: pt.DateOfBirth.Format(time.DateOnly), IdentityVerified: true}
		if i%5 != 0 {
			w.Attachments = nil
		}
		want[clinical.ConsultationGUID(p.ods(), w.JobID)] = true
		subs = append(subs, queue.Submission{Doc: w})
		if len(subs) == 50 {
			if _, err := f.q.EnqueueBatch(ctx, subs, queue.Actor{Component: "source"}); err != nil {
				t.Fatal(err)
			}
			subs = nil
		}
	}

	f.wait(90*time.Second, "every writeback to be filed", func() bool {
		counts, err := f.q.Counts()
		if err != nil {
			t.Fatal(err)
		}
		if counts[queue.NeedsAttention] > 0 {
			f.q.Each(queue.Filter{States: []queue.State{queue.NeedsAttention}}, func(r *queue.Record) error {
				t.Errorf("record %d needs attention: %s (attempts %s)", r.ID, r.Reason.Code, outcomes(r))
				return nil
			})
			t.FailNow()
		}
		return counts[queue.Filed] == n
	})
	elapsed := time.Since(start)
	p.SetFaults(faults.Settings{})

	filed := p.Consultations()
	seen := map[string]int{}
	for _, c := range filed {
		seen[c.GUID]++
	}
	if len(filed) != n || len(seen) != n {
		t.Errorf("%d consultations (%d GUIDs) in the record for %d writebacks", len(filed), len(seen), n)
	}
	for guid := range want {
		if seen[guid] != 1 {
			t.Errorf("consultation %s filed %d times", guid, seen[guid])
		}
	}
	attempts, unknown := 0, 0
	f.q.Each(queue.Filter{States: []queue.State{queue.Filed}}, func(r *queue.Record) error {
		if !want[r.ConsultationGUID] {
			t.Errorf("record %d filed as %s", r.ID, r.ConsultationGUID)
		}
		attempts += len(r.Attempts)
		for _, a := range r.Attempts {
			if strings.Contains(a.Detail, "outcome unknown") {
				unknown++
			}
		}
		return nil
	})
	if d := p.duplicate.Load(); d != 0 {
		t.Errorf("%d filings were refused as duplicates: the GUID must be looked up before filing again", d)
	}
	t.Logf("%d writebacks filed exactly once in %v: %d attempts, %d with an unknown outcome", n, elapsed.Round(time.Millisecond), attempts, unknown)
	if unknown == 0 {
		t.Error("no attempt had an unknown outcome: the faults were not injected")
	}
	f.assertNoPatientData()
}

func TestConditionsPauseFilingUntilPutRight(t *testing.T) {
	type step func(p *practice, f *fixture, gp fixtures.Staff, author string)
	app := func(active bool) step {
		return func(p *practice, _ *fixture, _ fixtures.Staff, _ string) {
			p.SetApplicationActive(active)
		}
	}
	user := func(change emas.Change) step {
		return func(p *practice, _ *fixture, gp fixtures.Staff, _ string) { p.SetUser(gp, change) }
	}
	relink := func(p *practice, f *fixture, gp fixtures.Staff, author string) {
		p.link(gp)
		f.eng.Recheck(author)
	}
	advance := func(d time.Duration) step {
		return func(p *practice, _ *fixture, _ fixtures.Staff, _ string) { p.Clock.Advance(d) }
	}
	type pause struct {
		kind  clinical.Kind
		cause string
		fix   step
	}
	tests := []struct {
		name   string
		arise  step
		pauses []pause // the conditions seen, in turn, as each fix is applied
	}{
		{name: "application deactivated", arise: app(false), pauses: []pause{
			{clinical.ErrApplicationNotActivated, "", app(true)},
		}},
		{name: "login access removed", arise: user(emas.Change{AllowLogin: new(false)}), pauses: []pause{
			{clinical.ErrNoLoginAccess, "login-not-allowed", user(emas.Change{AllowLogin: new(true)})},
			{clinical.ErrRelinkNeeded, "session-predates-access-change", relink},
		}},
		{name: "role that cannot file", arise: user(emas.Change{Role: new(emas.RoleReceptionist)}), pauses: []pause{
			{clinical.ErrInsufficientRole, "", user(emas.Change{Role: new(emas.RoleManageDetailedHealthRecords)})},
			{clinical.ErrRelinkNeeded, "session-predates-access-change", relink},
		}},
		{name: "session ended", arise: advance(48 * time.Hour), pauses: []pause{
			{clinical.ErrRelinkNeeded, "refresh-refused", relink},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPractice(t)
			f := practiceFixture(t, p, options{})
			gp := p.Filers()[0]
			author := p.link(gp)
			pts := p.PlainPatients()

			// Working: checked, confirmed, filed.
			first := f.enqueueJSON(exampleFor(t, p.ods(), "job-1", author, pts[0], pts[0].FamilyName))
			f.confirm(first, false)
			f.waitState(first, queue.Filed)

			// A writeback confirmed before the condition arises, and one that arrives after.
			ready := f.enqueueJSON(exampleFor(t, p.ods(), "job-2", author, pts[1], pts[1].FamilyName))
			f.waitState(ready, queue.NeedsConfirmation)
			tt.arise(p, f, gp, author)
			f.confirm(ready, false)
			later := f.enqueueJSON(exampleFor(t, p.ods(), "job-3", author, pts[2], pts[2].FamilyName))

			for _, want := range tt.pauses {
				var h filer.AuthorHealth
				f.wait(10*time.Second, fmt.Sprintf("author paused for %s %s", want.kind, want.cause), func() bool {
					h = f.health(author)
					return h.Health == filer.Paused && h.Err.Kind == want.kind && h.Err.Cause == want.cause
				})
				if relinkOnly := want.kind == clinical.ErrRelinkNeeded; h.NextProbe.IsZero() != relinkOnly {
					t.Errorf("%s: next probe %v", want.kind, h.NextProbe)
				}
				for _, id := range []uint64{ready, later} {
					if r, _ := f.q.Get(id); r.State == queue.Filed || r.State == queue.NeedsAttention {
						t.Fatalf("record %d %s while its author is paused", id, r.State)
					}
				}
				want.fix(p, f, gp, author)
			}
			f.confirm(later, false)
			for _, id := range []uint64{ready, later} {
				r := f.waitState(id, queue.Filed)
				for _, a := range r.Attempts {
					if a.Outcome == "retry" {
						t.Errorf("record %d: a paused author's failure counted as an attempt: %+v", id, a)
					}
				}
			}
			if h := f.health(author); h.Health != filer.Healthy {
				t.Errorf("author %+v after the fix", h)
			}
			if got := len(p.Consultations()); got != 3 {
				t.Errorf("%d consultations filed, want 3", got)
			}
			f.assertNoPatientData()
		})
	}
}

func TestExpiredAccessTokenIsRefreshedWithoutPausing(t *testing.T) {
	p := newPractice(t)
	f := practiceFixture(t, p, options{})
	author := p.link(p.Filers()[0])
	pt := p.PlainPatients()[0]
	first := f.enqueueJSON(exampleFor(t, p.ods(), "job-1", author, pt, pt.FamilyName))
	f.confirm(first, false)
	f.waitState(first, queue.Filed)
	p.Clock.Advance(3 * time.Hour) // the practice's clock: the agent's token looks valid to it
	second := f.enqueueJSON(exampleFor(t, p.ods(), "job-2", author, pt, pt.FamilyName))
	f.confirm(second, false)
	r := f.waitState(second, queue.Filed)
	if outcomes(r) != "filed" {
		t.Errorf("attempts %s", outcomes(r))
	}
	if h := f.health(author); h.Health != filer.Healthy {
		t.Errorf("author %+v", h)
	}
}

// damageOnFile damages an attachment file as the next filing starts, before the adapter
// streams the attachment into its request, and counts the filings.
type damageOnFile struct {
	clinical.System
	mu     sync.Mutex
	damage func()
	files  int
}

func (d *damageOnFile) File(ctx context.Context, f *clinical.Filing) (clinical.Consultation, error) {
	d.mu.Lock()
	d.files++
	damage := d.damage
	d.damage = nil
	d.mu.Unlock()
	if damage != nil {
		damage()
	}
	return d.System.File(ctx, f)
}

func (d *damageOnFile) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.files
}

// TestAttachmentDamagedWhileFilingIntoThePractice: the EMIS-X adapter finds the attachment
// damaged as it streams it into FileRecord. The request is aborted, the practice files
// nothing, and the record needs attention with the damaged-attachment reason, its outcome
// unknown, after one attempt.
func TestAttachmentDamagedWhileFilingIntoThePractice(t *testing.T) {
	p := newPractice(t)
	sys := &damageOnFile{System: p.client}
	f := newFixture(t, sys, options{config: func(c *filer.Config) { c.Checks = checks.DefaultPolicy(p.ods()) }})
	author := p.link(p.Filers()[0])
	pt := p.PlainPatients()[0]
	id := f.enqueueJSON(exampleFor(t, p.ods(), "job-1", author, pt, pt.FamilyName))
	f.waitState(id, queue.NeedsConfirmation)
	path := f.blob()
	sys.mu.Lock()
	sys.damage = func() { alter(t, path) }
	sys.mu.Unlock()
	f.confirm(id, false)
	r := f.waitState(id, queue.NeedsAttention)
	if r.Reason == nil || r.Reason.Code != filer.CodeAttachmentDamaged || !r.OutcomeUnknown || outcomes(r) != "attention" {
		t.Errorf("reason %+v, outcome unknown %t, attempts %s; want %s, unknown, one attempt",
			r.Reason, r.OutcomeUnknown, outcomes(r), filer.CodeAttachmentDamaged)
	}
	if a := r.Attempts[len(r.Attempts)-1]; a.Detail != "FileRecord: outcome unknown" {
		t.Errorf("attempt detail %q", a.Detail)
	}
	if n := sys.count(); n != 1 {
		t.Errorf("%d filings, want 1", n)
	}
	if n := len(p.Consultations()); n != 0 {
		t.Errorf("%d consultations in the record", n)
	}
	f.assertNoPatientData()
}
