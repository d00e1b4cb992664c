package queue

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// Go benchmarks of the queue's hot paths, for profiling (go test -bench . -cpuprofile).
// The claims about rates relative to the disk are made by `make bench`, not here.

func BenchmarkEnqueueParallel(b *testing.B) {
	f := newFixture(b)
	var seq atomic.Int64
	b.SetParallelism(32) // 64 producers on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.q.Enqueue(ctx, Submission{Doc: doc(fmt.Sprint("job-", seq.Add(1)))}, system); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCycleParallel takes each record through its whole life: enqueue, checks,
// confirmation, claim, filed.
func BenchmarkCycleParallel(b *testing.B) {
	f := newFixture(b)
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := f.q.Enqueue(ctx, Submission{Doc: doc(fmt.Sprint("job-", seq.Add(1)))}, system)
			if err == nil {
				_, err = f.q.MarkChecked(ctx, res.ID, system)
			}
			if err == nil {
				_, err = f.q.Confirm(ctx, res.ID, ConfirmOptions{}, system)
			}
			var c *Claim
			if err == nil {
				c, err = f.q.Claim(ctx, ClaimRequest{Owner: "bench"})
			}
			if err == nil {
				_, err = f.q.Document(c.ID)
			}
			if err == nil {
				_, err = f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "g"})
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
