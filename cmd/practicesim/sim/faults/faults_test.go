package faults

import (
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		s  Settings
		ok bool
	}{
		{Settings{}, true},
		{Settings{LatencyMs: 250, ErrorRate: 1, TimeoutAfterCommitRate: 0.5}, true},
		{Settings{LatencyMs: -1}, false},
		{Settings{ErrorRate: 1.5}, false},
		{Settings{ErrorRate: -0.1}, false},
		{Settings{TimeoutAfterCommitRate: 2}, false},
	}
	for _, tt := range tests {
		if err := New(1).Set(tt.s); (err == nil) != tt.ok {
			t.Errorf("Set(%+v) = %v, want ok %v", tt.s, err, tt.ok)
		}
	}
}

func TestRates(t *testing.T) {
	i := New(1)
	for range 100 {
		if i.FailCall() || i.DropAfterCommit() {
			t.Fatal("fault injected with zero rates")
		}
	}
	i.Set(Settings{LatencyMs: 20, ErrorRate: 1, TimeoutAfterCommitRate: 0.5})
	if i.Latency() != 20*time.Millisecond {
		t.Errorf("Latency = %v", i.Latency())
	}
	drops := 0
	for range 1000 {
		if !i.FailCall() {
			t.Fatal("call not failed with errorRate 1")
		}
		if i.DropAfterCommit() {
			drops++
		}
	}
	if drops < 400 || drops > 600 {
		t.Errorf("%d of 1000 filings dropped at rate 0.5", drops)
	}
}

func TestSameSeedSameFaults(t *testing.T) {
	a, b := New(42), New(42)
	s := Settings{ErrorRate: 0.3}
	a.Set(s)
	b.Set(s)
	for n := range 200 {
		if a.FailCall() != b.FailCall() {
			t.Fatalf("draw %d differs", n)
		}
	}
}

func TestThrottle(t *testing.T) {
	i := New(1)
	if ok, _ := i.Throttle(); ok {
		t.Fatal("throttled with a zero rate")
	}
	if err := i.Set(Settings{ThrottleRate: 1.5}); err == nil {
		t.Error("throttleRate 1.5 accepted")
	}
	i.Set(Settings{ThrottleRate: 1})
	if ok, after := i.Throttle(); !ok || after != 1 {
		t.Errorf("Throttle = %v, %d; want true and the default 1 s", ok, after)
	}
	i.Set(Settings{ThrottleRate: 1, RetryAfterSeconds: 7})
	if _, after := i.Throttle(); after != 7 {
		t.Errorf("Retry-After %d, want 7", after)
	}
}
