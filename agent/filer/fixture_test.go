package filer_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/logtest"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

var ctx = context.Background()

// Canary patient data: tests assert it never appears in logs, attempt histories or the
// audit trail.
const (
	canaryNHS     = "9434765919"
	canaryFamily  = "Quillonella-O'Zzyzx"
	canaryGiven   = "Marigoldine"
	canaryDOB     = "1980-02-29"
	canarySummary = "Canary summary: persistent xyzzy headaches"
)

var pngContent = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x08")

// fixture is a queue and an engine running on it, with a way to wait for records to move.
type fixture struct {
	t       testing.TB
	dir     string // the queue's
	q       *queue.Queue
	eng     *filer.Engine
	logs    *logtest.Buffer
	changed chan struct{}
	stop    func()
}

type options struct {
	retry  queue.RetryPolicy
	config func(*filer.Config)
	// onChange, if set, also sees the queue's changes (the e2e tests confirm records with it).
	onChange func(*queue.Queue, []queue.Change)
	// notify wakes the engine with Notify instead of OnChange.
	notify bool
}

func newFixture(t testing.TB, sys clinical.System, opt options) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), logs: &logtest.Buffer{}, changed: make(chan struct{}, 1)}
	key := make([]byte, 32)
	rand.Read(key)
	if opt.retry == (queue.RetryPolicy{}) {
		opt.retry = queue.RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2, MaxAttempts: 5}
	}
	var eng atomic.Pointer[filer.Engine]
	var q atomic.Pointer[queue.Queue]
	qq, err := queue.Open(queue.Options{
		Dir: f.dir, Key: key, Retry: opt.retry, LockTimeout: time.Second,
		OnChange: func(c []queue.Change) {
			if e := eng.Load(); e != nil && opt.notify {
				e.Notify()
			} else if e != nil {
				e.OnChange(c)
			}
			if opt.onChange != nil {
				if qp := q.Load(); qp != nil {
					opt.onChange(qp, c)
				}
			}
			select {
			case f.changed <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	q.Store(qq)
	f.q = qq
	cfg := filer.Config{
		Queue: qq, System: sys, Checks: checks.DefaultPolicy("A12345"), Lease: 10 * time.Second, Workers: 2,
		Reprobe:    queue.RetryPolicy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2},
		CheckRetry: queue.RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2},
		ReadRetry:  time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opt.config != nil {
		opt.config(&cfg)
	}
	e, err := filer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.Store(e)
	f.eng = e
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	var once sync.Once
	f.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		f.stop()
		qq.Close()
	})
	return f
}

// doc returns a valid writeback for the canary patient by author.
func doc(job, author string) *writeback.Writeback {
	bp := 142.0
	return &writeback.Writeback{
		Schema: writeback.SchemaV1, JobID: job, PracticeODS: "A12345",
		Author: writeback.Author{ClinicalUserID: author, DisplayName: "Dr A Patel"},
		Patient: writeback.Patient{NHSNumber: canaryNHS, FamilyName: canaryFamily, GivenNames: canaryGiven,
			DateOfBirth: canaryDOB, IdentityVerified: true},
		Summary: canarySummary,
		Codes: []writeback.Code{
			{System: writeback.SNOMEDSystem, Code: "25064002", Display: "Headache"},
			{System: writeback.SNOMEDSystem, Code: "271649006", Display: "Systolic blood pressure", Value: &bp, Unit: "mm[Hg]"},
		},
		Attachments: []writeback.Attachment{{FileName: "photo.png", MediaType: "image/png", DataBase64: base64.StdEncoding.EncodeToString(pngContent)}},
		CreatedAt:   time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
	}
}

func (f *fixture) enqueue(w *writeback.Writeback) uint64 {
	f.t.Helper()
	res, err := f.q.Enqueue(ctx, queue.Submission{Doc: w}, queue.Actor{Component: "test"})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.ID
}

// wait waits until cond holds for the queue, or fails the test after timeout.
func (f *fixture) wait(timeout time.Duration, what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-f.changed:
		case <-deadline.C:
			f.t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond): // engine-side state (author health) changes without a queue change
		}
	}
}

func (f *fixture) waitState(id uint64, want queue.State) *queue.Record {
	f.t.Helper()
	var r *queue.Record
	f.wait(10*time.Second, fmt.Sprintf("record %d to be %s", id, want), func() bool {
		var err error
		r, err = f.q.Get(id)
		if err != nil {
			f.t.Fatal(err)
		}
		return r.State == want
	})
	return r
}

func (f *fixture) confirm(id uint64, pfsVisible bool) {
	f.t.Helper()
	f.waitState(id, queue.NeedsConfirmation)
	if _, err := f.q.Confirm(ctx, id, queue.ConfirmOptions{PfsVisible: pfsVisible}, queue.Actor{ClinicalUser: "10001"}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) health(author string) filer.AuthorHealth {
	for _, h := range f.eng.Authors() {
		if h.Author == author {
			return h
		}
	}
	return filer.AuthorHealth{Author: author}
}

func (f *fixture) waitHealth(author string, want filer.Health) filer.AuthorHealth {
	f.t.Helper()
	var h filer.AuthorHealth
	f.wait(10*time.Second, fmt.Sprintf("author %s to be %s", author, want), func() bool {
		h = f.health(author)
		return h.Health == want
	})
	return h
}

// assertNoPatientData fails if the canary patient's details appear in the engine's logs,
// any record's attempts or reason code, or the audit trail.
func (f *fixture) assertNoPatientData() {
	f.t.Helper()
	secrets := []string{canaryNHS, "943 476 5919", canaryFamily, "Quillonella", canaryGiven, canaryDOB, "29/02/1980", "xyzzy"}
	check := func(where, s string) {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				f.t.Errorf("%s holds patient data (%q): %s", where, secret, s)
			}
		}
	}
	check("the log", f.logs.String())
	err := f.q.Each(queue.Filter{}, func(r *queue.Record) error {
		for _, a := range r.Attempts {
			check(fmt.Sprintf("record %d attempt", r.ID), a.Outcome+" "+a.Code+" "+a.Detail)
		}
		if r.Reason != nil {
			check(fmt.Sprintf("record %d reason code", r.ID), r.Reason.Code)
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.q.Audit(0, 0, func(e queue.AuditEntry) error {
		check("audit entry", e.Action+" "+e.Detail)
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

// fakeSystem is a clinical system in memory. Like an adapter, File reads every attachment to
// its end, and fails with clinical.CauseAttachmentUnreadable if one cannot be.
type fakeSystem struct {
	mu       sync.Mutex
	patients []clinical.Patient
	probe    map[string]error // by author
	find     []error          // errors FindPatients returns, in turn
	file     []fileResult     // what File does, in turn; success when empty
	lookups  []error          // errors FindConsultation returns before answering, in turn
	filed    map[string]string
	calls    map[string]int

	// beforeFile, if set, runs as File starts: before it reads the attachments.
	beforeFile func()
	received   map[string][][]byte // attachments filed, by GUID
}

// fileResult is what one File call does: fail with err, having filed first if commit; if
// hang, it waits for its context to end and fails with an unknown outcome.
type fileResult struct {
	err    error
	commit bool
	hang   bool
}

func newFakeSystem() *fakeSystem {
	return &fakeSystem{
		patients: []clinical.Patient{{ID: "500001", NHSNumber: canaryNHS, FamilyName: canaryFamily, GivenNames: canaryGiven, DateOfBirth: canaryDOB, Registered: true}},
		probe:    map[string]error{}, filed: map[string]string{}, calls: map[string]int{}, received: map[string][][]byte{},
	}
}

func (s *fakeSystem) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *fakeSystem) setProbe(author string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probe[author] = err
}

func (s *fakeSystem) Probe(_ context.Context, author string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["Probe"]++
	return s.probe[author]
}

func (s *fakeSystem) FindPatients(_ context.Context, _, nhs string) ([]clinical.Patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["FindPatients"]++
	if len(s.find) > 0 {
		err := s.find[0]
		s.find = s.find[1:]
		return nil, err
	}
	var out []clinical.Patient
	for _, p := range s.patients {
		if p.NHSNumber == strings.ReplaceAll(nhs, " ", "") {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *fakeSystem) File(ctx context.Context, f *clinical.Filing) (clinical.Consultation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["File"]++
	if s.beforeFile != nil {
		s.beforeFile()
	}
	var content [][]byte
	for _, a := range f.Attachments {
		b, err := readAttachment(a)
		if err != nil {
			return clinical.Consultation{}, &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient,
				Cause: clinical.CauseAttachmentUnreadable, OutcomeUnknown: true, Err: err}
		}
		content = append(content, b)
	}
	if len(s.file) > 0 {
		r := s.file[0]
		s.file = s.file[1:]
		if r.commit {
			s.filed[f.ConsultationGUID] = fmt.Sprint(900000 + len(s.filed))
		}
		if r.hang {
			s.mu.Unlock()
			<-ctx.Done()
			s.mu.Lock()
			return clinical.Consultation{}, &clinical.Error{Op: "FileRecord", Kind: clinical.ErrTransient, OutcomeUnknown: true, Err: ctx.Err()}
		}
		return clinical.Consultation{}, r.err
	}
	if _, dup := s.filed[f.ConsultationGUID]; dup {
		return clinical.Consultation{}, &clinical.Error{Op: "FileRecord", Kind: clinical.ErrDuplicateConsultation, Status: 400}
	}
	id := fmt.Sprint(900000 + len(s.filed))
	s.filed[f.ConsultationGUID] = id
	s.received[f.ConsultationGUID] = content
	return clinical.Consultation{GUID: f.ConsultationGUID, ID: id}, nil
}

// readAttachment reads an attachment to its end, as an adapter streams it.
func readAttachment(a clinical.Attachment) ([]byte, error) {
	rc, err := a.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil && int64(len(b)) != a.Size {
		err = fmt.Errorf("%d bytes, not %d", len(b), a.Size)
	}
	return b, err
}

func (s *fakeSystem) attachmentsFiled(guid string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[guid]
}

func (s *fakeSystem) FindConsultation(_ context.Context, _, _, guid string) (clinical.Consultation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls["FindConsultation"]++
	if len(s.lookups) > 0 {
		err := s.lookups[0]
		s.lookups = s.lookups[1:]
		return clinical.Consultation{}, err
	}
	id, ok := s.filed[guid]
	if !ok {
		return clinical.Consultation{}, &clinical.Error{Op: "GetMedicalRecord", Kind: clinical.ErrConsultationNotFound, Status: 200}
	}
	return clinical.Consultation{GUID: guid, ID: id}, nil
}

func (s *fakeSystem) filedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.filed)
}

func kindErr(op string, k clinical.Kind, cause string, status int) error {
	return &clinical.Error{Op: op, Kind: k, Cause: cause, Status: status}
}

var errBoom = errors.New("boom")
