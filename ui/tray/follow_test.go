package tray

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// fakeStream plays a script of events and errors; after the script it blocks until closed
// (a quiet service) unless end is set.
type fakeStream struct {
	script []step
	end    error // returned after the script; nil: block
	closed chan struct{}
	once   sync.Once
}

type step struct {
	e     apitype.Event
	err   error
	delay time.Duration
}

func (f *fakeStream) Next() (apitype.Event, error) {
	if len(f.script) == 0 {
		if f.end != nil {
			return apitype.Event{}, f.end
		}
		<-f.closed
		return apitype.Event{}, errors.New("closed")
	}
	s := f.script[0]
	f.script = f.script[1:]
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-f.closed:
			return apitype.Event{}, errors.New("closed")
		}
	}
	return s.e, s.err
}

func (f *fakeStream) Close() error { f.once.Do(func() { close(f.closed) }); return nil }

// fakeService answers dials from a list: an error (the service is not running) or a stream.
type fakeService struct {
	mu     sync.Mutex
	dials  []any // error or *fakeStream; the last one repeats
	times  []time.Time
	opened []*fakeStream
}

func (f *fakeService) dial(ctx context.Context) (Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.times = append(f.times, time.Now())
	next := f.dials[0]
	if len(f.dials) > 1 {
		f.dials = f.dials[1:]
	}
	switch v := next.(type) {
	case error:
		return nil, v
	case *fakeStream:
		s := &fakeStream{script: append([]step(nil), v.script...), end: v.end, closed: make(chan struct{})}
		f.opened = append(f.opened, s)
		return s, nil
	}
	panic("fakeService: bad script")
}

func (f *fakeService) attempts() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.times) }

var notRunning = &client.NotRunningError{Socket: "/run/wbagent/api.sock", Err: errors.New("connection refused")}

func stateEvent(caller *apitype.Caller, state string) apitype.Event {
	return apitype.Event{Type: apitype.EventState, Status: &apitype.Status{State: "ok", Caller: caller}, Records: []apitype.Record{{ID: 1, State: "needs-confirmation", Mine: state == "waiting"}}}
}

// views collects what the tray would show, in order, with a channel to wait on.
type views struct {
	mu   sync.Mutex
	seen []View
	ch   chan View
}

func newViews() *views { return &views{ch: make(chan View, 1000)} }

func (v *views) update(s *Snapshot) {
	view := Build(s, Prefs{}, now)
	v.mu.Lock()
	v.seen = append(v.seen, view)
	v.mu.Unlock()
	v.ch <- view
}

// waitFor returns the first view (from now on) for which ok holds.
func (v *views) waitFor(t *testing.T, what string, ok func(View) bool) View {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case view := <-v.ch:
			if ok(view) {
				return view
			}
		case <-deadline:
			t.Fatalf("no view where %s", what)
		}
	}
}

func isOffline(v View) bool { return v.Status == Offline && v.Tooltip == TooltipOffline }
func hasReview(v View) bool { return hasItem(v, "review") }

var fast = Backoff{Min: 2 * time.Millisecond, Max: 16 * time.Millisecond, FirstEvent: time.Second}

func startFollow(t *testing.T, svc *fakeService, b Backoff) (*views, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	v := newViews()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Follow(ctx, svc.dial, b, slog.New(slog.NewTextHandler(&logs, nil)), v.update)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Follow did not return when its context ended")
		}
	})
	return v, &logs.buf
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func TestFollowServiceGoneBacksOffWithoutSpinning(t *testing.T) {
	svc := &fakeService{dials: []any{notRunning}}
	v, logs := startFollow(t, svc, fast)
	v.waitFor(t, "offline", isOffline)
	time.Sleep(200 * time.Millisecond)
	n := svc.attempts()
	// 2, 4, 8, 16, 16, … ms: about 15 attempts in 200 ms; a spin would make thousands.
	if n < 5 || n > 25 {
		t.Errorf("%d attempts in 200 ms with back-off from 2 to 16 ms", n)
	}
	svc.mu.Lock()
	for i := 5; i < len(svc.times); i++ {
		if gap := svc.times[i].Sub(svc.times[i-1]); gap < fast.Max {
			t.Errorf("attempt %d came %v after the one before, under the %v cap", i, gap, fast.Max)
		}
	}
	svc.mu.Unlock()
	if c := strings.Count(logs.String(), "not running"); c != 1 {
		t.Errorf("the same failure was logged %d times, want once:\n%s", c, logs)
	}
	v.mu.Lock()
	if len(v.seen) != 1 {
		t.Errorf("%d updates while the service stayed away, want 1", len(v.seen))
	}
	v.mu.Unlock()
}

func TestFollowServiceComesBackAndGoesAgain(t *testing.T) {
	svc := &fakeService{dials: []any{notRunning, notRunning, notRunning,
		&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}}, end: io.EOF},
		notRunning,
		&fakeStream{script: []step{{e: stateEvent(clinician, "none")}}}}}
	v, logs := startFollow(t, svc, fast)
	v.waitFor(t, "offline", isOffline)
	v.waitFor(t, "the service's state shows", hasReview)
	v.waitFor(t, "offline after the stream ends", isOffline)
	v.waitFor(t, "the state after the restart", func(v View) bool { return v.Status == OK })
	if !strings.Contains(logs.String(), "stopping") {
		t.Errorf("the end of the stream was not logged:\n%s", logs)
	}
}

func TestFollowMalformedEventShowsOfflineAndLogs(t *testing.T) {
	for _, bad := range []step{
		{err: errors.New("client: watch: invalid character 'x' looking for beginning of value")},
		{e: apitype.Event{Type: apitype.EventStatus}}, // no status
		{e: apitype.Event{Type: apitype.EventRecord}}, // no record
	} {
		svc := &fakeService{dials: []any{
			&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}, bad}},
			&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}}}}}
		v, logs := startFollow(t, svc, fast)
		v.waitFor(t, "connected", hasReview)
		v.waitFor(t, "offline after the malformed event", isOffline)
		v.waitFor(t, "reconnected", hasReview)
		if !strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("malformed event not logged:\n%s", logs)
		}
	}
	// A stream whose first event is malformed never shows as connected.
	svc := &fakeService{dials: []any{&fakeStream{script: []step{{e: apitype.Event{Type: apitype.EventRecord}}}}}}
	v, _ := startFollow(t, svc, fast)
	time.Sleep(50 * time.Millisecond)
	v.mu.Lock()
	for _, view := range v.seen {
		if !isOffline(view) {
			t.Errorf("showed %s from a malformed stream", view.Status)
		}
	}
	v.mu.Unlock()
}

func TestFollowSlowService(t *testing.T) {
	// Slow but within the bound: the tray waits, offline, then shows the state.
	svc := &fakeService{dials: []any{&fakeStream{script: []step{{e: stateEvent(clinician, "waiting"), delay: 100 * time.Millisecond}}}}}
	v, _ := startFollow(t, svc, fast)
	v.waitFor(t, "offline while waiting", isOffline)
	v.waitFor(t, "the state once it comes", hasReview)
	if n := svc.attempts(); n != 1 {
		t.Errorf("%d attempts for one slow stream", n)
	}

	// Silent past the bound: abandoned, logged and tried again.
	b := fast
	b.FirstEvent = 30 * time.Millisecond
	svc = &fakeService{dials: []any{
		&fakeStream{script: []step{{e: stateEvent(clinician, "waiting"), delay: time.Hour}}},
		&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}}}}}
	v, logs := startFollow(t, svc, b)
	v.waitFor(t, "the state from the second stream", hasReview)
	if !strings.Contains(logs.String(), "sent nothing for too long") {
		t.Errorf("the silent stream was not logged:\n%s", logs)
	}

	// Once the first event came, a quiet stream is normal: it is kept open.
	b.FirstEvent = 20 * time.Millisecond
	svc = &fakeService{dials: []any{&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}}}}}
	v, _ = startFollow(t, svc, b)
	v.waitFor(t, "connected", hasReview)
	time.Sleep(100 * time.Millisecond)
	if n := svc.attempts(); n != 1 {
		t.Errorf("a quiet stream was reopened: %d attempts", n)
	}
}

func TestFollowStopsWithItsContext(t *testing.T) {
	svc := &fakeService{dials: []any{&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}}}}}
	// Cleanups run last first: this one runs after startFollow's has cancelled the context
	// and seen Follow return.
	t.Cleanup(func() {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		select {
		case <-svc.opened[0].closed:
		default:
			t.Error("the stream was left open")
		}
	})
	v, _ := startFollow(t, svc, DefaultBackoff)
	v.waitFor(t, "connected", hasReview)
}

func TestFollowDoesNotHurryAServiceThatDropsTheStream(t *testing.T) {
	// Each stream sends the state and ends at once: a service in a crash loop.
	b := Backoff{Min: 2 * time.Millisecond, Max: 32 * time.Millisecond, Stable: time.Hour, FirstEvent: time.Second}
	svc := &fakeService{dials: []any{&fakeStream{script: []step{{e: stateEvent(clinician, "waiting")}}, end: io.EOF}}}
	startFollow(t, svc, b)
	time.Sleep(250 * time.Millisecond)
	// 2, 4, 8, 16, 32, 32, … ms: about 11 attempts in 250 ms; resetting to 2 ms each time
	// would make over a hundred.
	if n := svc.attempts(); n < 4 || n > 20 {
		t.Errorf("%d attempts in 250 ms", n)
	}
}
