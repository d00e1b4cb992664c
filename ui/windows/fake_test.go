package windows

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// fakeService stands in for the service: records in memory, a watch stream the test feeds,
// and a log of the calls made.
type fakeService struct {
	mu       sync.Mutex
	records  map[uint64]*apitype.RecordDetail
	status   apitype.Status
	link     apitype.LinkState
	offline  bool // every call fails as if the service were not running
	calls    []string
	streams  chan *fakeStream
	confirm  func(id uint64, pfs bool, version uint64) (*apitype.Record, error)
	probe    func() (*apitype.ProbeResult, error)
	attached map[string][]byte // "id/index" → content
}

func newFake() *fakeService {
	return &fakeService{
		records:  map[uint64]*apitype.RecordDetail{},
		status:   apitype.Status{State: condition.OK, Caller: &apitype.Caller{OSUser: "alice", ClinicalUserID: "501", ClinicalName: "Dr Alice Smith"}},
		streams:  make(chan *fakeStream, 16),
		attached: map[string][]byte{},
	}
}

var t0 = time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)

// add stores a waiting writeback of the caller's, received minutes after t0, for patient
// family name, with the clinical system's match (the same patient unless changed).
func (f *fakeService) add(id uint64, family string, minutes int) *apitype.RecordDetail {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := writeback.Patient{NHSNumber: "9434765919", FamilyName: family, GivenNames: "Siobhan", DateOfBirth: "1980-02-29", IdentityVerified: true}
	d := &apitype.RecordDetail{
		Record: apitype.Record{ID: id, JobID: fmt.Sprint("job-", id), State: queue.NeedsConfirmation, Author: "501", Mine: true,
			CreatedAt: t0.Add(time.Duration(minutes) * time.Minute), Version: 3},
		Content: &apitype.Content{AuthorName: "Dr Alice Smith", Patient: p, Summary: "Headaches for three weeks.\nAdvice given.",
			Codes:       []writeback.Code{{System: "http://snomed.info/sct", Code: "25064002", Display: "Headache"}},
			Attachments: []apitype.Attachment{{FileName: "letter.pdf", MediaType: "application/pdf", Size: 2048}}},
		Match: &apitype.Match{Matches: 1, NHSNumberValid: true, IdentityVerified: true,
			Patient: &apitype.MatchedPatient{NHSNumber: p.NHSNumber, FamilyName: family, GivenNames: "Siobhan", DateOfBirth: "1980-02-29", Registered: true}},
	}
	f.records[id] = d
	return d
}

func (f *fakeService) called(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	if f.offline {
		return &client.NotRunningError{Socket: "test.sock", Err: io.ErrClosedPipe}
	}
	return nil
}

// sawCall reports whether a call starting with prefix was made.
func (f *fakeService) sawCall(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func (f *fakeService) list() []apitype.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apitype.Record
	for _, d := range f.records {
		out = append(out, d.Record)
	}
	return out
}

func (f *fakeService) Status(context.Context) (*apitype.Status, error) {
	if err := f.called("Status"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.status
	return &st, nil
}

func (f *fakeService) Queue(_ context.Context, states ...queue.State) ([]apitype.Record, error) {
	if err := f.called("Queue"); err != nil {
		return nil, err
	}
	var out []apitype.Record
	for _, r := range f.list() {
		if len(states) == 0 || slices.Contains(states, r.State) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeService) detail(id uint64, match bool) (*apitype.RecordDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.records[id]
	if !ok {
		return nil, &client.APIError{Status: 404, Code: apitype.CodeNotFound, Message: fmt.Sprintf("record %d not found", id)}
	}
	c := *d
	if !match {
		c.Match = nil
	}
	return &c, nil
}

func (f *fakeService) Review(_ context.Context, id uint64) (*apitype.RecordDetail, error) {
	if err := f.called("Review %d", id); err != nil {
		return nil, err
	}
	return f.detail(id, true)
}

func (f *fakeService) Record(_ context.Context, id uint64) (*apitype.RecordDetail, error) {
	if err := f.called("Record %d", id); err != nil {
		return nil, err
	}
	return f.detail(id, false)
}

func (f *fakeService) Attachment(_ context.Context, id uint64, index int) ([]byte, error) {
	if err := f.called("Attachment %d %d", id, index); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attached[fmt.Sprintf("%d/%d", id, index)], nil
}

func (f *fakeService) Confirm(_ context.Context, id uint64, pfs bool, version uint64) (*apitype.Record, error) {
	if err := f.called("Confirm %d pfsVisible=%t version=%d", id, pfs, version); err != nil {
		return nil, err
	}
	if f.confirm != nil {
		return f.confirm(id, pfs, version)
	}
	return f.decide(id, queue.Ready)
}

func (f *fakeService) decide(id uint64, st queue.State) (*apitype.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.records[id]
	d.State = st
	d.Version++
	r := d.Record
	return &r, nil
}

func (f *fakeService) Reject(_ context.Context, id uint64, reason string) (*apitype.Record, error) {
	if err := f.called("Reject %d %s", id, reason); err != nil {
		return nil, err
	}
	return f.decide(id, queue.Rejected)
}

func (f *fakeService) Retry(_ context.Context, id uint64) (*apitype.Record, error) {
	if err := f.called("Retry %d", id); err != nil {
		return nil, err
	}
	return f.decide(id, queue.Received)
}

func (f *fakeService) Cancel(_ context.Context, id uint64, reason string) (*apitype.Record, error) {
	if err := f.called("Cancel %d %s", id, reason); err != nil {
		return nil, err
	}
	return f.decide(id, queue.Cancelled)
}

func (f *fakeService) Probe(context.Context) (*apitype.ProbeResult, error) {
	if err := f.called("Probe"); err != nil {
		return nil, err
	}
	return f.probe()
}

func (f *fakeService) LinkState(context.Context) (*apitype.LinkState, error) {
	if err := f.called("LinkState"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.link
	return &st, nil
}

func (f *fakeService) Link(_ context.Context, req apitype.LinkRequest) (*apitype.LinkState, error) {
	if err := f.called("Link %s %s", req.ClinicalUserID, req.AccessToken); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.link.Link = &link.Link{OSUser: "alice", ClinicalUserID: req.ClinicalUserID, ClinicalName: "Dr Alice Smith", LinkedAt: t0}
	st := f.link
	return &st, nil
}

func (f *fakeService) Unlink(_ context.Context, user string) (*apitype.LinkState, error) {
	if err := f.called("Unlink %s", user); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.link
	f.link.Link = nil
	return &st, nil
}

func (f *fakeService) Diag(_ context.Context, w io.Writer) error {
	if err := f.called("Diag"); err != nil {
		return err
	}
	_, err := io.WriteString(w, "PK")
	return err
}

// Watch opens a stream the test feeds with send; its first event is the state.
func (f *fakeService) Watch(context.Context) (Events, error) {
	if err := f.called("Watch"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	st := f.status
	f.mu.Unlock()
	s := &fakeStream{events: make(chan apitype.Event, 64), done: make(chan struct{})}
	s.events <- apitype.Event{Type: apitype.EventState, Status: &st, Records: f.list()}
	f.streams <- s
	return s, nil
}

type fakeStream struct {
	events chan apitype.Event
	once   sync.Once
	done   chan struct{}
}

func (s *fakeStream) Next() (apitype.Event, error) {
	select {
	case e := <-s.events:
		return e, nil
	case <-s.done:
		return apitype.Event{}, io.EOF
	}
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.done) })
	return nil
}

// stream waits for the window to open a watch stream.
func (f *fakeService) stream(t *testing.T) *fakeStream {
	t.Helper()
	select {
	case s := <-f.streams:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("the window opened no watch stream")
		return nil
	}
}

// eventually waits for cond, which reads the window (run with fyne.DoAndWait).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var ok bool
		onUI(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// onUI runs f as the UI goroutine would, after the updates handed to it.
func onUI(f func()) {
	fyne.DoAndWait(func() {
		uiMu.Lock()
		defer uiMu.Unlock()
		f()
	})
}

// drawn returns the text of every visible label, rich text, button and canvas text in o.
func drawn(o fyne.CanvasObject) string {
	var out []string
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch w := o.(type) {
		case *widget.Label:
			out = append(out, w.Text)
			return
		case *widget.RichText:
			out = append(out, w.String())
			return
		case *widget.Button:
			out = append(out, w.Text)
			return
		case *canvas.Text:
			out = append(out, w.Text)
			return
		}
		switch w := o.(type) {
		case *fyne.Container:
			for _, c := range w.Objects {
				walk(c)
			}
		case fyne.Widget:
			r := test.WidgetRenderer(w)
			for _, c := range r.Objects() {
				walk(c)
			}
		}
	}
	walk(o)
	return strings.Join(out, "\n")
}

// fastReconnect makes the windows reconnect quickly for the test, and waits at its end for
// the windows' background requests.
func fastReconnect(t *testing.T) {
	oldMin, oldMax := reconnectMin, reconnectMax
	reconnectMin, reconnectMax = 10*time.Millisecond, 20*time.Millisecond
	// Runs last: the windows are closed by then, and no request may outlive the test.
	t.Cleanup(func() {
		inflight.Wait()
		reconnectMin, reconnectMax = oldMin, oldMax
	})
}
