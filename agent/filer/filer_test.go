package filer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

func outcomes(r *queue.Record) string {
	var o []string
	for _, a := range r.Attempts {
		o = append(o, a.Outcome)
	}
	return strings.Join(o, ",")
}

func TestCheckedConfirmedFiled(t *testing.T) {
	for _, notify := range []bool{false, true} {
		name := "OnChange"
		if notify {
			name = "Notify"
		}
		t.Run(name, func(t *testing.T) {
			sys := newFakeSystem()
			f := newFixture(t, sys, options{notify: notify})
			id := f.enqueue(doc("job-1", "10001"))
			f.confirm(id, true)
			r := f.waitState(id, queue.Filed)
			if want := clinical.ConsultationGUID("A12345", "job-1"); r.ConsultationGUID != want || r.ConsultationID == "" || r.OutcomeUnknown {
				t.Errorf("filed as %q (id %q), want GUID %s", r.ConsultationGUID, r.ConsultationID, want)
			}
			if sys.count("File") != 1 || sys.count("Probe") != 1 || sys.count("FindPatients") != 2 {
				t.Errorf("calls %v: want one probe, a patient search at checking and at filing, one filing", sys.calls)
			}
			if h := f.health("10001"); h.Health != filer.Healthy || h.Err != nil {
				t.Errorf("author %+v", h)
			}
			f.assertNoPatientData()
		})
	}
}

func TestChecksStopRecordsForAPerson(t *testing.T) {
	tests := []struct {
		name   string
		doc    func(*writeback.Writeback)
		system func(*fakeSystem)
		code   string
	}{
		{name: "identity not verified", doc: func(w *writeback.Writeback) { w.Patient.IdentityVerified = false }, code: checks.CodeIdentityNotVerified},
		{name: "NHS number", doc: func(w *writeback.Writeback) { w.Patient.NHSNumber = "9434765918" }, code: checks.CodeNHSNumberInvalid},
		{name: "SNOMED code", doc: func(w *writeback.Writeback) { w.Codes[0].Code = "25064003" }, code: checks.CodeSNOMEDInvalid},
		{name: "attachment content", doc: func(w *writeback.Writeback) {
			w.Attachments[0].FileName, w.Attachments[0].MediaType = "photo.jpg", "image/jpeg"
		}, code: checks.CodeAttachmentContentMismatch},
		{name: "no such patient", system: func(s *fakeSystem) { s.patients = nil }, code: checks.CodePatientNotFound},
		{name: "two records", system: func(s *fakeSystem) {
			s.patients = append(s.patients, s.patients[0])
			s.patients[1].ID = "500002"
		}, code: checks.CodeSeveralPatientsMatch},
		{name: "surname", system: func(s *fakeSystem) { s.patients[0].FamilyName = "Quillonella-OZzyzx" }, code: checks.CodeSurnameMismatch},
		{name: "date of birth", system: func(s *fakeSystem) { s.patients[0].DateOfBirth = "1980-03-01" }, code: checks.CodeDOBMismatch},
		{name: "deceased", system: func(s *fakeSystem) { s.patients[0].Deceased, s.patients[0].Registered = true, false }, code: checks.CodePatientDeceased},
		{name: "deregistered", system: func(s *fakeSystem) { s.patients[0].Registered = false }, code: checks.CodePatientNotRegistered},
		{name: "search refused", system: func(s *fakeSystem) {
			s.find = []error{kindErr("GetMatchedPatients", clinical.ErrBadRequest, "malformed-request", 400)}
		}, code: filer.CodeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem()
			if tt.system != nil {
				tt.system(sys)
			}
			f := newFixture(t, sys, options{})
			w := doc("job-1", "10001")
			if tt.doc != nil {
				tt.doc(w)
			}
			r := f.waitState(f.enqueue(w), queue.NeedsAttention)
			if r.Reason == nil || r.Reason.Code != tt.code || r.Reason.Text == "" || r.Reason.Fix == "" {
				t.Errorf("reason %+v, want code %s with text and fix", r.Reason, tt.code)
			}
			if sys.count("File") != 0 {
				t.Error("filed")
			}
			f.assertNoPatientData()
		})
	}
}

func TestFilingFailuresAreHandledByKind(t *testing.T) {
	guid := clinical.ConsultationGUID("A12345", "job-1")
	transient := &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient, Status: 500, LegacyOutcome: 1001, OutcomeUnknown: true}
	dropped := &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient, OutcomeUnknown: true, Err: errors.New("EOF")}
	refused := &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient, Status: 429}
	tests := []struct {
		name      string
		system    func(*fakeSystem)
		state     queue.State
		attempts  string
		files     int // File calls
		code      string
		filedOnce bool
	}{
		{name: "refused for now, then filed", system: func(s *fakeSystem) { s.file = []fileResult{{err: refused}} },
			state: queue.Filed, attempts: "retry,filed", files: 2, filedOnce: true},
		{name: "server error before filing: looked up, then filed", system: func(s *fakeSystem) { s.file = []fileResult{{err: transient}} },
			state: queue.Filed, attempts: "retry,filed", files: 2, filedOnce: true},
		{name: "connection dropped after filing: found, not filed again", system: func(s *fakeSystem) { s.file = []fileResult{{err: dropped, commit: true}} },
			state: queue.Filed, attempts: "retry,filed", files: 1, filedOnce: true},
		{name: "look-up fails for now: still not filed again", system: func(s *fakeSystem) {
			s.file = []fileResult{{err: dropped, commit: true}}
			lookupFails := kindErr("GetConsultation", clinical.ErrTransient, "", 500)
			s.lookups = []error{lookupFails, lookupFails, lookupFails} // the read and its retries
		}, state: queue.Filed, attempts: "retry,retry,filed", files: 1, filedOnce: true},
		{name: "duplicate refused and confirmed", system: func(s *fakeSystem) { s.filed[guid] = "900123" },
			state: queue.Filed, attempts: "filed", files: 1, filedOnce: true},
		{name: "duplicate refused, not in the record", system: func(s *fakeSystem) {
			s.file = []fileResult{{err: kindErr("FileRecord", clinical.ErrDuplicateConsultation, "", 400)}}
		}, state: queue.NeedsAttention, attempts: "attention", files: 1, code: filer.CodeDuplicateUnconfirmed},
		{name: "malformed", system: func(s *fakeSystem) {
			s.file = []fileResult{{err: kindErr("FileRecord", clinical.ErrBadRequest, "filing-not-permitted", 400)}}
		}, state: queue.NeedsAttention, attempts: "attention", files: 1, code: filer.CodeRefused},
		{name: "patient no longer registered", system: func(s *fakeSystem) {
			s.file = []fileResult{{err: kindErr("FileRecord", clinical.ErrPatientNotRegistered, "", 400)}}
		}, state: queue.NeedsAttention, attempts: "attention", files: 1, code: checks.CodePatientNotRegistered},
		{name: "access refused: released, not counted, filed once put right", system: func(s *fakeSystem) {
			e := kindErr("FileRecord", clinical.ErrNoLoginAccess, "login-not-allowed", 401)
			s.file = []fileResult{{err: e}, {err: e}, {err: e}, {err: e}, {err: e}, {err: e}} // more than MaxAttempts
		}, state: queue.Filed, attempts: "released,released,released,released,released,released,filed", files: 7, filedOnce: true},
		{name: "patient died since checking", system: func(s *fakeSystem) {
			s.find = []error{nil} // checking sees the patient alive …
		}, state: queue.NeedsAttention, attempts: "attention", files: 0, code: checks.CodePatientDeceased},
		{name: "passing failures exhausted", system: func(s *fakeSystem) {
			s.file = []fileResult{{err: refused}, {err: refused}, {err: refused}, {err: refused}, {err: refused}}
		}, state: queue.NeedsAttention, attempts: "retry,retry,retry,retry,retry", files: 5, code: "retries-exhausted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem()
			tt.system(sys)
			var died bool
			if len(sys.find) == 1 && sys.find[0] == nil {
				sys.find, died = nil, true
			}
			f := newFixture(t, sys, options{})
			id := f.enqueue(doc("job-1", "10001"))
			f.waitState(id, queue.NeedsConfirmation)
			if died { // … and filing finds them deceased
				sys.mu.Lock()
				sys.patients[0].Deceased, sys.patients[0].Registered = true, false
				sys.mu.Unlock()
			}
			f.confirm(id, false)
			r := f.waitState(id, tt.state)
			if got := outcomes(r); got != tt.attempts {
				t.Errorf("attempts %s, want %s", got, tt.attempts)
			}
			if got := sys.count("File"); got != tt.files {
				t.Errorf("%d File calls, want %d", got, tt.files)
			}
			if tt.code != "" && (r.Reason == nil || r.Reason.Code != tt.code) {
				t.Errorf("reason %+v, want %s", r.Reason, tt.code)
			}
			if tt.filedOnce && (sys.filedCount() != 1 || r.ConsultationGUID != guid) {
				t.Errorf("%d consultations filed; record says %s", sys.filedCount(), r.ConsultationGUID)
			}
			f.assertNoPatientData()
		})
	}
}

func TestAttentionAfterAnUnknownOutcomeSaysSo(t *testing.T) {
	sys := newFakeSystem()
	sys.file = []fileResult{{err: &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient, Status: 500, OutcomeUnknown: true}}}
	f := newFixture(t, sys, options{})
	id := f.enqueue(doc("job-1", "10001"))
	f.waitState(id, queue.NeedsConfirmation)
	sys.mu.Lock()
	sys.lookups = []error{kindErr("GetConsultation", clinical.ErrTransient, "", 500), kindErr("GetConsultation", clinical.ErrPatientNotFound, "", 404)}
	sys.mu.Unlock()
	f.confirm(id, false)
	r := f.waitState(id, queue.NeedsAttention)
	if !r.OutcomeUnknown || r.Reason == nil || !strings.Contains(r.Reason.Text, "An earlier attempt may have filed it") {
		t.Errorf("outcome unknown %t, reason %+v", r.OutcomeUnknown, r.Reason)
	}
}

func TestFilingThatOutlivesItsTimeIsLookedUp(t *testing.T) {
	sys := newFakeSystem()
	sys.file = []fileResult{{commit: true, hang: true}}
	f := newFixture(t, sys, options{config: func(c *filer.Config) { c.Lease = 200 * time.Millisecond }})
	id := f.enqueue(doc("job-1", "10001"))
	f.confirm(id, false)
	r := f.waitState(id, queue.Filed)
	if sys.count("File") != 1 || sys.filedCount() != 1 || outcomes(r) != "retry,filed" {
		t.Errorf("File calls %d, filed %d, attempts %s", sys.count("File"), sys.filedCount(), outcomes(r))
	}
}

func TestPausedAuthorWaitsAndResumes(t *testing.T) {
	sys := newFakeSystem()
	sys.setProbe("10001", kindErr("GetUserById", clinical.ErrApplicationNotActivated, "", 401))
	f := newFixture(t, sys, options{})
	id := f.enqueue(doc("job-1", "10001"))
	h := f.waitHealth("10001", filer.Paused)
	if h.Err == nil || h.Err.Kind != clinical.ErrApplicationNotActivated || h.NextProbe.IsZero() {
		t.Errorf("paused %+v", h)
	}
	f.wait(5*time.Second, "a few probes with back-off", func() bool { return sys.count("Probe") >= 3 })
	if r, _ := f.q.Get(id); r.State != queue.Received {
		t.Errorf("record %s while its author is paused", r.State)
	}
	sys.setProbe("10001", nil)
	f.confirm(id, true)
	f.waitState(id, queue.Filed)
	if h := f.health("10001"); h.Health != filer.Healthy || h.Err != nil {
		t.Errorf("after the fix: %+v", h)
	}
}

func TestAuthorWhoMustLinkWaitsForRecheck(t *testing.T) {
	tests := []struct {
		kind    clinical.Kind
		recheck func(*filer.Engine)
	}{
		{clinical.ErrNotLinked, func(e *filer.Engine) { e.Recheck("10001") }},
		{clinical.ErrRelinkNeeded, func(e *filer.Engine) { e.RecheckPaused() }},
	}
	for _, tt := range tests {
		kind := tt.kind
		t.Run(string(kind), func(t *testing.T) {
			sys := newFakeSystem()
			sys.setProbe("10001", kind)
			f := newFixture(t, sys, options{})
			id := f.enqueue(doc("job-1", "10001"))
			other := f.enqueue(doc("job-2", "10002"))
			h := f.waitHealth("10001", filer.Paused)
			if h.Err == nil || h.Err.Kind != kind || !h.NextProbe.IsZero() {
				t.Errorf("paused %+v: want %s and no probe until Recheck", h, kind)
			}
			f.confirm(other, false)
			f.waitState(other, queue.Filed) // one author's pause holds no one else
			probes := sys.count("Probe")
			time.Sleep(100 * time.Millisecond)
			if sys.count("Probe") != probes {
				t.Error("probed again without Recheck: a refused link is not retried in a loop")
			}
			sys.setProbe("10001", nil)
			tt.recheck(f.eng)
			f.confirm(id, false)
			f.waitState(id, queue.Filed)
		})
	}
}

func TestIdleEngineSleeps(t *testing.T) {
	sys := newFakeSystem()
	sys.setProbe("10002", clinical.ErrNotLinked)
	f := newFixture(t, sys, options{})
	id := f.enqueue(doc("job-1", "10001"))
	f.confirm(id, false)
	f.waitState(id, queue.Filed)
	f.enqueue(doc("job-2", "10002")) // waits for a link
	f.waitHealth("10002", filer.Paused)
	time.Sleep(50 * time.Millisecond)
	before := strings.Count(f.logs.String(), "pass done")
	probes := sys.count("Probe")
	time.Sleep(300 * time.Millisecond)
	if passes := strings.Count(f.logs.String(), "pass done") - before; passes != 0 || sys.count("Probe") != probes {
		t.Errorf("%d passes and %d probes while idle; want none", passes, sys.count("Probe")-probes)
	}
}

func TestStoppingReleasesAFilingInProgress(t *testing.T) {
	sys := newFakeSystem()
	sys.file = []fileResult{{hang: true}}
	f := newFixture(t, sys, options{})
	id := f.enqueue(doc("job-1", "10001"))
	f.confirm(id, false)
	f.wait(5*time.Second, "the filing to start", func() bool { return sys.count("File") == 1 })
	f.stop()
	r, err := f.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	last := r.Attempts[len(r.Attempts)-1]
	if r.State != queue.Ready || !r.OutcomeUnknown || last.Outcome != "released" || last.Code != filer.CodeInterrupted {
		t.Errorf("after stopping: %s, outcome unknown %t, attempts %+v\n%s", r.State, r.OutcomeUnknown, r.Attempts, f.logs.String())
	}
}

func TestNewNeedsAQueueAndASystem(t *testing.T) {
	if _, err := filer.New(filer.Config{System: newFakeSystem()}); err == nil {
		t.Error("no queue: accepted")
	}
	if _, err := filer.New(filer.Config{Queue: &queue.Queue{}}); err == nil {
		t.Error("no system: accepted")
	}
}
