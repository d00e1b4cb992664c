package queue

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/fakeclock"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Canary patient data: tests assert these never appear where they must not.
const (
	canaryNHS    = "9990001112"
	canaryFamily = "Zzyzxcanary"
	canaryGiven  = "Quillonella"
)

var ctx = context.Background()

func testKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

type fixture struct {
	t     testing.TB
	dir   string
	key   []byte
	clock *fakeclock.Clock
	q     *Queue
	opts  Options
}

func newFixture(t testing.TB, mod ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), key: testKey(t), clock: fakeclock.New(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))}
	f.opts = Options{Dir: f.dir, Key: f.key, Now: f.clock.Now, LockTimeout: 200 * time.Millisecond}
	for _, m := range mod {
		m(&f.opts)
	}
	f.open()
	t.Cleanup(func() { f.q.Close() })
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	q, err := Open(f.opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.q = q
}

func (f *fixture) reopen() {
	f.t.Helper()
	if err := f.q.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.open()
}

func doc(job string) *writeback.Writeback {
	v := 142.0
	return &writeback.Writeback{
		Schema:      writeback.SchemaV1,
		JobID:       job,
		PracticeODS: "A12345",
		Author:      writeback.Author{ClinicalUserID: "dr.patel", DisplayName: "Dr A Patel"},
		Patient: writeback.Patient{NHSNumber: canaryNHS, FamilyName: canaryFamily, GivenNames: canaryGiven,
			DateOfBirth: "1980-02-29", Sex: "female", IdentityVerified: true},
		Summary:   "Patient " + canaryGiven + " " + canaryFamily + " reports headaches.",
		Codes:     []writeback.Code{{System: writeback.SNOMEDSystem, Code: "38341003", Display: "Hypertension", Value: &v, Unit: "mm[Hg]"}},
		CreatedAt: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC),
	}
}

var system = Actor{Component: "test"}

func (f *fixture) enqueue(job string) uint64 {
	f.t.Helper()
	res, err := f.q.Enqueue(ctx, Submission{Doc: doc(job)}, system)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.ID
}

// to drives a new record to state s through legal transitions and returns its id.
func (f *fixture) to(s State) uint64 {
	f.t.Helper()
	id := f.enqueue(fmt.Sprintf("job-%s-%d", s, f.q.nextID.Load()+1))
	must := func(_ *Record, err error) {
		f.t.Helper()
		if err != nil {
			f.t.Fatal(err)
		}
	}
	switch s {
	case Received:
	case NeedsConfirmation:
		must(f.q.MarkChecked(ctx, id, system))
	case NeedsAttention:
		must(f.q.NeedsAttention(ctx, id, Reason{Code: "test"}, system))
	case Cancelled:
		must(f.q.Cancel(ctx, id, "test", system))
	case Ready, Filing, Filed, Rejected:
		must(f.q.MarkChecked(ctx, id, system))
		if s == Rejected {
			must(f.q.Reject(ctx, id, "not needed", system))
			break
		}
		must(f.q.Confirm(ctx, id, ConfirmOptions{PfsVisible: true}, system))
		if s == Ready {
			break
		}
		c, err := f.q.Claim(ctx, ClaimRequest{Owner: "test", Lease: time.Minute, Eligible: func(string) bool { return true }})
		if err != nil {
			f.t.Fatal(err)
		}
		if c.ID != id {
			f.t.Fatalf("claimed %d, want %d", c.ID, id)
		}
		if s == Filed {
			must(f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "g", ConsultationID: "c"}))
		}
	}
	if r, _ := f.q.Get(id); r.State != s {
		f.t.Fatalf("record %d in %s, want %s", id, r.State, s)
	}
	return id
}

// incompressible returns n random letters: a summary that keeps its size in the log and
// the database, where a repeated one would be compressed away (see compressBody).
func incompressible(n int) string {
	rng := mrand.New(mrand.NewPCG(uint64(n), 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	return string(b)
}
