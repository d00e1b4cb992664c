package probe

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Callers asking together share one run; a caller asking after a run ended gets a new one.
func TestConcurrentCallersShareOneRun(t *testing.T) {
	r := New()
	r.MinGap = 50 * time.Millisecond
	var runs atomic.Int32
	release := make(chan struct{})
	r.Register("clinical-system", "EMIS", func(ctx context.Context) []Check {
		runs.Add(1)
		<-release
		return []Check{{Subject: "clinician:1", OK: true}}
	})
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			res, err := r.Run(t.Context())
			if err != nil || len(res.Checks) != 1 || !res.Checks[0].OK {
				t.Errorf("Run: %+v, %v", res, err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Errorf("%d runs for 10 callers asking together, want 1", n)
	}
	start := time.Now()
	if _, err := r.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs: a caller after the run ended must get a fresh one", n)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("the next run started %v after the last ended, want at least MinGap", d)
	}
}

// A probe that does not answer within the bound is reported as a timeout, the others as
// they answered.
func TestAProbeThatDoesNotAnswerIsATimeout(t *testing.T) {
	r := New()
	r.Timeout = 100 * time.Millisecond
	r.Register("platform", "The platform", func(ctx context.Context) []Check {
		select {} // never answers, whatever ctx says
	})
	r.Register("clinical-system", "EMIS", func(ctx context.Context) []Check {
		return []Check{{Subject: "clinician:1", OK: true}}
	})
	r.Register("slow", "Slow", func(ctx context.Context) []Check {
		<-ctx.Done()
		return nil
	})
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Incomplete || len(res.Checks) != 3 {
		t.Fatalf("result %+v: want incomplete with three checks", res)
	}
	for _, c := range res.Checks {
		if (c.Subject == "clinician:1") != c.OK || (!c.OK && c.Code != CodeTimeout) {
			t.Errorf("check %+v", c)
		}
	}
}
