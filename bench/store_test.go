package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, c := range []struct {
		id      string
		payload []byte
	}{{"", nil}, {"job-1", []byte(`{"a":1}`)}, {strings.Repeat("x", 300), bytes.Repeat([]byte{0}, 5000)}} {
		id, p, err := decodeRecord(encodeRecord(c.id, c.payload))
		if err != nil || id != c.id || !bytes.Equal(p, c.payload) {
			t.Errorf("round trip %q: %q %v", c.id, id, err)
		}
	}
	if _, _, err := decodeRecord([]byte{10, 'a'}); err == nil {
		t.Error("truncated record accepted")
	}
}

func TestPayloadGen(t *testing.T) {
	for _, example := range []string{"", "../docs/examples/writeback.json"} {
		g, err := newPayloadGen(example, 2048)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i := 0; i < 100; i++ {
			id, p := g.next()
			if len(p) != g.Size() {
				t.Fatalf("%s: payload %d bytes, Size() %d", g.source, len(p), g.Size())
			}
			if got, ok := jobIDOf(p); !ok || got != id {
				t.Fatalf("jobIDOf = %q, want %q", got, id)
			}
			if seen[id] {
				t.Fatalf("duplicate job id %s", id)
			}
			seen[id] = true
		}
		if g.source == "generated writeback/v1 document" && g.Size() != 2048 {
			t.Errorf("generated payload is %d bytes, want 2048", g.Size())
		}
		if g.Size() < 2048 {
			t.Errorf("%s: payload %d bytes, want ≥ 2048", g.source, g.Size())
		}
	}
}

func TestTimed(t *testing.T) {
	r, err := timed(context.Background(), 4, 20*time.Millisecond, 100*time.Millisecond, func(context.Context) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil || r.ops == 0 || r.elapsed < 100*time.Millisecond {
		t.Fatalf("timed: %+v %v", r, err)
	}
	boom := fmt.Errorf("boom")
	if _, err := timed(context.Background(), 4, time.Second, time.Second, func(context.Context) error { return boom }); err != boom {
		t.Fatalf("error not returned: %v", err)
	}
}

// TestStoreConformance runs every registered store — ours too, once ours.go exists —
// through the Store contract on a small scale: FIFO claims with the enqueued payloads, done
// items never seen again, then the harness's own cycle and backlog workloads.
func TestStoreConformance(t *testing.T) {
	gen, err := newPayloadGen("", 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sortedEntries() {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := e.factory(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() == "" {
				t.Error("empty Name()")
			}
			const n = 20
			var jobs []string
			for i := 0; i < n; i++ {
				id, p := gen.next()
				jobs = append(jobs, id)
				if err := s.Enqueue(ctx, id, p); err != nil {
					t.Fatal(err)
				}
			}
			var claimed []string
			for i := 0; i < n; i++ {
				id, p, ok, err := s.Claim(ctx)
				if err != nil || !ok {
					t.Fatalf("claim %d: ok=%v err=%v", i, ok, err)
				}
				job, _ := jobIDOf(p)
				if job != jobs[i] || len(p) != gen.Size() {
					t.Fatalf("claim %d returned job %q (%d bytes), want %q: not FIFO or wrong payload", i, job, len(p), jobs[i])
				}
				claimed = append(claimed, id)
			}
			if _, _, ok, err := s.Claim(ctx); ok || err != nil {
				t.Fatalf("claim on an all-claimed queue: ok=%v err=%v", ok, err)
			}
			for _, id := range claimed {
				if err := s.Done(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, ok, err := s.Claim(ctx); ok || err != nil {
				t.Fatalf("claim after done: ok=%v err=%v", ok, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			cfg := workloadCfg{producers: 8, duration: 100 * time.Millisecond, warmup: 10 * time.Millisecond,
				backlog: 200, gen: gen, claimWait: 5 * time.Second}
			for _, wl := range []string{wlCycle, wlBacklog} {
				r, _, _, err := runWorkload(ctx, e.factory, t.TempDir(), wl, cfg)
				if err != nil {
					t.Fatalf("%s: %v", wl, err)
				}
				t.Logf("%s: %d ops in %v", wl, r.ops, r.elapsed) // may be 0 on a loaded machine
			}
		})
	}
}
