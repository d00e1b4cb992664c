package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Go benchmarks of the queue's hot paths, for profiling (go test -bench . -cpuprofile).
// The claims about rates relative to the disk are made by `make bench`, not here.

// The parallel benchmarks report cpu-ns/op besides ns/op: the CPU the whole process used
// (every goroutine: callers, commit leader, completer, applier, GC) per operation. Rates
// here move with the disk's latency from run to run; the CPU an operation costs does much
// less, so it is what shows whether a change to the hot paths helped.

// benchSummary is a 2 KB summary, as make bench's payload has: words drawn at random, so
// it compresses about as much as prose does (a repeated sentence would all but vanish in
// compressBody).
var benchSummary = func() string {
	words := strings.Fields("patient reports intermittent headaches over three weeks worse in the " +
		"morning no visual disturbance weakness home blood pressure readings averaging seven days " +
		"advised lifestyle measures reduce salt alcohol repeat further week book review with practice " +
		"nurse safety netted for sudden severe chest pain breathlessness call ambulance taking " +
		"ramipril amlodipine since last year denies palpitations sleeping poorly stress at work")
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < 2048 {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:2048]
}()

func BenchmarkEnqueueParallel(b *testing.B) {
	f := newFixture(b)
	var seq atomic.Int64
	b.SetParallelism(32) // 64 producers on 2 CPUs
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := doc(fmt.Sprint("job-", seq.Add(1)))
			d.Summary = benchSummary
			if _, err := f.q.Enqueue(ctx, Submission{Doc: d}, system); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// reportCPU resets the benchmark's timer and returns the function that reports the
// process's CPU time per operation since then (call it before the fixture is closed).
func reportCPU(b *testing.B) func() {
	b.ResetTimer()
	start := processCPU()
	return func() {
		if used := processCPU() - start; used > 0 && b.N > 0 {
			b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkCycleParallel takes each record through its whole life: enqueue, checks,
// confirmation, claim, filed.
func BenchmarkCycleParallel(b *testing.B) {
	f := newFixture(b)
	var seq atomic.Int64
	b.SetParallelism(32)
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := lifeCycle(ctx, f.q, fmt.Sprint("job-", seq.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// lifeCycle takes a new record through its whole life: enqueue, checks, confirmation, claim
// (of the oldest ready record), its document read, filed.
func lifeCycle(ctx context.Context, q *Queue, job string) error {
	res, err := q.Enqueue(ctx, Submission{Doc: doc(job)}, system)
	if err == nil {
		_, err = q.MarkChecked(ctx, res.ID, system)
	}
	if err == nil {
		_, err = q.Confirm(ctx, res.ID, ConfirmOptions{}, system)
	}
	var c *Claim
	if err == nil {
		c, err = q.Claim(ctx, ClaimRequest{Owner: "bench", Lease: time.Minute})
	}
	if err == nil {
		_, err = q.Document(c.ID)
	}
	if err == nil {
		_, err = q.MarkFiled(ctx, c.Ticket, FilingOutcome{ConsultationGUID: "g"})
	}
	return err
}

// BenchmarkPrepare measures the work an enqueue does before it joins a group: encoding,
// sealing and staging a record with a 2 KB summary, as make bench's payload has.
func BenchmarkPrepare(b *testing.B) {
	f := newFixture(b)
	d := doc("job")
	d.Summary = benchSummary
	b.ReportAllocs()
	for b.Loop() {
		p, err := f.q.prepare(Submission{Doc: d}, system)
		if err != nil {
			b.Fatal(err)
		}
		p.stage.Discard()
	}
}
