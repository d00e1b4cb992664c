package watch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/bus"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/queue"
)

type fakeProber struct {
	mu    sync.Mutex
	err   map[string]error
	calls atomic.Int64
}

func (p *fakeProber) Probe(_ context.Context, user string) error {
	p.calls.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err[user]
}

func (p *fakeProber) set(user string, err error) {
	p.mu.Lock()
	p.err[user] = err
	p.mu.Unlock()
}

type fakeLinks struct{ accounts []link.Account }

func (l fakeLinks) Accounts() []link.Account { return l.accounts }
func (l fakeLinks) Links() []link.Link {
	var out []link.Link
	for _, a := range l.accounts {
		out = append(out, link.Link{OSUserID: "os-" + a.ClinicalUserID, OSUser: "os-" + a.ClinicalUserID, ClinicalUserID: a.ClinicalUserID})
	}
	return out
}

type noRecords struct{}

func (noRecords) Get(uint64) (*queue.Record, error)                  { return nil, queue.ErrNotFound }
func (noRecords) Each(queue.Filter, func(*queue.Record) error) error { return nil }

type fakeEngine struct {
	mu      sync.Mutex
	authors []filer.AuthorHealth
}

func (e *fakeEngine) Authors() []filer.AuthorHealth {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.authors
}
func (e *fakeEngine) Recheck(string) {}

func start(t *testing.T, cfg Config) (*condition.Board, *bus.Bus) {
	t.Helper()
	b := bus.New()
	board := condition.NewBoard(func() { b.Publish(bus.Event{Status: true}) })
	cfg.Board, cfg.Bus, cfg.Queue = board, b, noRecords{}
	if cfg.Links == nil {
		cfg.Links = fakeLinks{accounts: []link.Account{{ClinicalUserID: "10001", Name: "Dr A"}}}
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return board, b
}

func waitFor(t *testing.T, board *condition.Board, code string, present bool) condition.Condition {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, c := range board.All() {
			if c.Code == code && present {
				return c
			}
		}
		if !present && !hasCode(board.All(), code) {
			return condition.Condition{}
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition %s present=%v: board %+v", code, present, board.All())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hasCode(conds []condition.Condition, code string) bool {
	for _, c := range conds {
		if c.Code == code {
			return true
		}
	}
	return false
}

var fast = queue.RetryPolicy{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2}

// Probe failures the simulator cannot easily produce map to their conditions and clear.
func TestProbeFailuresBecomeConditions(t *testing.T) {
	cases := []struct {
		err   error
		code  string
		owner condition.Owner
	}{
		{&clinical.Error{Op: "GetUserById", Kind: clinical.ErrUserNotFound}, CodeUserIDUnknown, condition.PracticeManager},
		{&clinical.Error{Op: "GetOrganisation", Kind: clinical.ErrWrongPractice}, CodeWrongPractice, condition.IT},
		{&clinical.Error{Op: "GetUserById", Kind: clinical.ErrRelinkNeeded, Cause: "token-invalid"}, CodeSessionEnded, condition.Clinician},
		{&clinical.Error{Op: "GetUserById", Kind: clinical.ErrAccessDenied}, CodeAccessDenied, condition.IT},
		{errors.New("dial tcp: connection refused"), CodeUnreachable, condition.IT},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			p := &fakeProber{err: map[string]error{"10001": tc.err}}
			board, _ := start(t, Config{Prober: p, Healthy: 10 * time.Millisecond, Backoff: fast})
			c := waitFor(t, board, tc.code, true)
			if c.Owner != tc.owner || c.Fix == "" || c.Title == "" {
				t.Fatalf("condition %+v, want owner %s", c, tc.owner)
			}
			p.set("10001", nil)
			waitFor(t, board, tc.code, false)
		})
	}
}

// Vision practices get the Vision steps.
func TestVisionTexts(t *testing.T) {
	c := describe(CodeUserIDUnknown, []string{"x"}, true)
	if !strings.Contains(c.Fix, "forename and surname") || !strings.Contains(c.Fix, "one space") {
		t.Fatalf("Vision user id fix: %q", c.Fix)
	}
	if c := describe(CodeRoleCannotFile, []string{"x"}, true); !strings.Contains(c.Fix, "Clinicians") {
		t.Fatalf("Vision role fix: %q", c.Fix)
	}
}

// A filing paused on access makes the watcher probe at once, not at its next schedule.
func TestEnginePauseProbesAtOnce(t *testing.T) {
	p := &fakeProber{err: map[string]error{}}
	eng := &fakeEngine{}
	board, b := start(t, Config{Prober: p, Engine: eng, Healthy: time.Hour})
	deadline := time.Now().Add(5 * time.Second)
	for p.calls.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("never probed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	refused := &clinical.Error{Op: "FileRecord", Kind: clinical.ErrNoLoginAccess, Cause: "login-not-allowed"}
	p.set("10001", refused)
	eng.mu.Lock()
	eng.authors = []filer.AuthorHealth{{Author: "10001", Health: filer.Paused, Err: refused, Since: time.Now()}}
	eng.mu.Unlock()
	b.Publish(bus.Event{Records: []uint64{1}})
	waitFor(t, board, CodeLoginAccess, true)
	// An author the engine paused but who is not linked here.
	eng.mu.Lock()
	eng.authors = append(eng.authors, filer.AuthorHealth{Author: "10009", Health: filer.Paused,
		Err: &clinical.Error{Op: "Probe", Kind: clinical.ErrNotLinked}, Since: time.Now()})
	eng.mu.Unlock()
	b.Publish(bus.Event{Records: []uint64{2}})
	if c := waitFor(t, board, CodeAuthorNotLinked, true); !strings.Contains(c.Title, "10009") {
		t.Fatalf("title %q", c.Title)
	}
}

// A writeback whose author id is not in the form the clinical system uses (here a Vision
// style name at an EMIS practice) is not a clinician who has yet to link: the platform's
// Medical Record System User ID needs putting right.
func TestMalformedAuthorIDIsAUserIDProblem(t *testing.T) {
	eng := &fakeEngine{authors: []filer.AuthorHealth{{Author: "James Smith", Health: filer.Paused,
		Err: &clinical.Error{Op: "Probe", Kind: clinical.ErrNotLinked}, Since: time.Now()}}}
	board, b := start(t, Config{Prober: &fakeProber{err: map[string]error{}}, Engine: eng, Healthy: time.Hour})
	b.Publish(bus.Event{Records: []uint64{1}})
	c := waitFor(t, board, CodeUserIDUnknown, true)
	if !strings.Contains(c.Title, "James Smith") || !strings.Contains(c.Fix, "Medical Record System User ID") {
		t.Fatalf("condition %+v", c)
	}
	if hasCode(board.All(), CodeAuthorNotLinked) {
		t.Fatal("also reported as not linked")
	}
}

// An idle watcher sleeps: with every probe passing it probes once per Healthy interval.
func TestIdleWatcherSleeps(t *testing.T) {
	p := &fakeProber{err: map[string]error{}}
	start(t, Config{Prober: p, Healthy: time.Hour})
	time.Sleep(300 * time.Millisecond)
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d probes in 300 ms, want 1", n)
	}
}

func TestCheckUserID(t *testing.T) {
	cases := []struct {
		system, id string
		want       error
	}{
		{SystemEMIS, "jsmith", nil},
		{SystemEMIS, "10001", nil},
		{SystemEMIS, "", ErrUserIDMissing},
		{SystemEMIS, "  ", ErrUserIDMissing},
		{SystemEMIS, "James Smith", ErrUserIDMalformed},
		{SystemVision, "James Smith", nil},
		{SystemVision, "Anne-Marie O'Brien", nil},
		{SystemVision, "Zoë Núñez", nil},
		{SystemVision, "jsmith", ErrUserIDMalformed},
		{SystemVision, "J Smith", ErrUserIDMalformed},
		{SystemVision, "JS", ErrUserIDMalformed},
		{SystemVision, "James  Smith", ErrUserIDMalformed},
		{SystemVision, " James Smith", ErrUserIDMalformed},
		{SystemVision, "10001", ErrUserIDMalformed},
		{SystemVision, "", ErrUserIDMissing},
	}
	for _, tc := range cases {
		if err := CheckUserID(tc.system, tc.id); !errors.Is(err, tc.want) && err != tc.want {
			t.Errorf("CheckUserID(%s, %q) = %v, want %v", tc.system, tc.id, err, tc.want)
		}
	}
}

// seqProber fails each probe with the next error of its list (nil: passes), then passes.
type seqProber struct {
	mu   sync.Mutex
	errs []error
}

func (p *seqProber) Probe(context.Context, string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) == 0 {
		return nil
	}
	err := p.errs[0]
	p.errs = p.errs[1:]
	return err
}

// A single lost answer between passing probes is confirmed by another probe before it is
// shown: staff are not told the clinical system is unreachable for one dropped call; two in a
// row are shown.
func TestAPassingProbeFailureIsConfirmedBeforeItShows(t *testing.T) {
	lost := errors.New("read: connection reset by peer")
	p := &seqProber{errs: []error{nil, lost, nil, lost, lost}}
	b := bus.New()
	board := condition.NewBoard(func() { b.Publish(bus.Event{Status: true}) })
	var shown atomic.Int32
	sub := b.Subscribe(0)
	defer sub.Close()
	go func() {
		for range sub.Ready() {
			sub.Take()
			if hasCode(board.All(), CodeUnreachable) {
				shown.Add(1)
			}
		}
	}()
	w, err := New(Config{Prober: p, Healthy: 10 * time.Millisecond, Backoff: fast, Board: board, Bus: b, Queue: noRecords{},
		Links: fakeLinks{accounts: []link.Account{{ClinicalUserID: "10001", Name: "Dr A"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// pass, lost (doubted), pass (2 s later): never shown …
	time.Sleep(confirmAfter + 500*time.Millisecond)
	if shown.Load() != 0 {
		t.Fatal("one lost answer was shown as unreachable")
	}
	// … lost, lost (confirmed): shown.
	waitFor(t, board, CodeUnreachable, true)
	waitFor(t, board, CodeUnreachable, false)
}
