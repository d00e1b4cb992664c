package queue

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// indexSnapshot is what the index says: the live records of each state, and the counts.
type indexSnapshot struct {
	ids    map[State][]uint64
	counts map[State]int
}

func snapshotIndex(t *testing.T, q *Queue) indexSnapshot {
	t.Helper()
	s := indexSnapshot{ids: map[State][]uint64{}}
	seen := map[uint64]State{}
	for _, st := range States {
		if st.Terminal() {
			continue
		}
		ids := q.idx.idsIn(st, "")
		for _, id := range ids {
			if other, dup := seen[id]; dup {
				t.Fatalf("record %d is in the index as both %s and %s", id, other, st)
			}
			seen[id] = st
		}
		s.ids[st] = ids
	}
	var err error
	if s.counts, err = q.Counts(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTheIndexMatchesTheRecordsAfterConcurrentChanges changes records from many
// goroutines at once, so that groups hold several changes of one record, and then compares
// the index the writer kept up to date with the one rebuilt from the database on reopening.
// The index learns from each change which state a record left; a wrong one would leave
// the record in two states.
func TestTheIndexMatchesTheRecordsAfterConcurrentChanges(t *testing.T) {
	f := newFixture(t)
	const workers, steps = 16, 150
	var (
		mu  sync.Mutex
		all []uint64 // every worker picks from all the records, so they meet on some
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range steps {
				mu.Lock()
				n := len(all)
				var id uint64
				if n > 0 {
					id = all[max(0, n-1-rng.IntN(min(n, 8)))] // mostly recent ones: more meetings
				}
				mu.Unlock()
				if n == 0 || rng.IntN(4) == 0 {
					res, err := f.q.Enqueue(ctx, Submission{Doc: doc(fmt.Sprintf("w%d-%d", w, i))}, system)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					all = append(all, res.ID)
					mu.Unlock()
					continue
				}
				var err error
				switch rng.IntN(9) {
				case 0, 1:
					_, err = f.q.MarkChecked(ctx, id, system)
				case 2, 3:
					_, err = f.q.Confirm(ctx, id, ConfirmOptions{}, system)
				case 4:
					_, err = f.q.NeedsAttention(ctx, id, Reason{Code: "surname-mismatch"}, system)
				case 5:
					_, err = f.q.Retry(ctx, id, system)
				case 6:
					_, err = f.q.Reject(ctx, id, "not this patient", system)
				case 7:
					var c *Claim
					if c, err = f.q.Claim(ctx, ClaimRequest{Owner: "test", Lease: time.Minute}); err == nil {
						switch rng.IntN(3) {
						case 0:
							_, err = f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "g"})
						case 1:
							_, err = f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: RetryLater, Code: "timeout"})
						default:
							_, err = f.q.FailFiling(ctx, c.Ticket, Failure{Disposition: Release, Code: "session-refresh-needed"})
						}
					}
				default:
					_, err = f.q.Cancel(ctx, id, "withdrawn", system)
				}
				if err != nil && !errors.Is(err, ErrIllegalTransition) && !errors.Is(err, ErrNothingReady) {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	kept := snapshotIndex(t, f.q)
	total := 0
	for _, ids := range kept.ids {
		total += len(ids)
	}
	if total == 0 || kept.counts[Filed]+kept.counts[Rejected]+kept.counts[Cancelled] == 0 {
		t.Fatalf("the operations left no live or no finished records (%v): the test proves little", kept.counts)
	}
	f.reopen()
	rebuilt := snapshotIndex(t, f.q)
	for _, st := range States {
		if !slices.Equal(kept.ids[st], rebuilt.ids[st]) {
			t.Errorf("%s: the index kept %v, the records say %v", st, kept.ids[st], rebuilt.ids[st])
		}
	}
	if !maps.Equal(kept.counts, rebuilt.counts) {
		t.Errorf("counts: the index kept %v, the records say %v", kept.counts, rebuilt.counts)
	}
}
