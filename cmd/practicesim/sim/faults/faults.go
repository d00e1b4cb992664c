// Package faults injects failures into the simulated Partner API, so that
// the agent's handling of slow, failing and ambiguous calls can be tested:
// a delay before every call, a share of calls that fail with a server error
// before doing anything, a share of FileRecord calls that commit the
// consultation and then never answer, and a switch that makes FileRecord
// ignore the consultation GUID it is sent.
//
// Decisions are drawn from a seeded math/rand/v2 source, so a test that sets
// the same seed and makes the same calls sees the same faults.
package faults

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// Settings are the fault rates. The zero value injects nothing.
type Settings struct {
	LatencyMs              int     `json:"latencyMs"`              // delay before every call
	ErrorRate              float64 `json:"errorRate"`              // 0..1: share of calls failing with 500
	TimeoutAfterCommitRate float64 `json:"timeoutAfterCommitRate"` // 0..1: share of filings committed but unanswered
	// IgnoreConsultationGUID files each consultation under a GUID of the simulator's own
	// instead of the one sent, as a clinical system that does not keep it would.
	IgnoreConsultationGUID bool `json:"ignoreConsultationGuid"`
	// ThrottleRate is the share of calls answered 429 Too Many Requests (before anything is
	// done) with Retry-After: RetryAfterSeconds (default 1).
	ThrottleRate      float64 `json:"throttleRate,omitempty"`
	RetryAfterSeconds int     `json:"retryAfterSeconds,omitempty"`
}

// Validate reports settings that make no sense.
func (s Settings) Validate() error {
	switch {
	case s.LatencyMs < 0:
		return errors.New("faults: latencyMs must not be negative")
	case s.ErrorRate < 0 || s.ErrorRate > 1:
		return errors.New("faults: errorRate must be between 0 and 1")
	case s.TimeoutAfterCommitRate < 0 || s.TimeoutAfterCommitRate > 1:
		return errors.New("faults: timeoutAfterCommitRate must be between 0 and 1")
	case s.ThrottleRate < 0 || s.ThrottleRate > 1:
		return errors.New("faults: throttleRate must be between 0 and 1")
	case s.RetryAfterSeconds < 0 || s.RetryAfterSeconds > 3600:
		return errors.New("faults: retryAfterSeconds must be between 0 and 3600")
	}
	return nil
}

// Injector decides which faults to inject. It is safe for concurrent use.
type Injector struct {
	mu       sync.Mutex
	settings Settings
	rng      *rand.Rand
}

// New returns an Injector that injects nothing until Set is called.
func New(seed uint64) *Injector {
	return &Injector{rng: rand.New(rand.NewPCG(seed, 0xfa017))}
}

// Set replaces the settings.
func (i *Injector) Set(s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.settings = s
	return nil
}

// Settings returns the current settings.
func (i *Injector) Settings() Settings {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.settings
}

// Latency is the delay to add before a call.
func (i *Injector) Latency() time.Duration {
	return time.Duration(i.Settings().LatencyMs) * time.Millisecond
}

// FailCall draws whether a call fails with a server error.
func (i *Injector) FailCall() bool { return i.draw(func(s Settings) float64 { return s.ErrorRate }) }

// Throttle draws whether a call is answered 429, and returns the Retry-After to send.
func (i *Injector) Throttle() (bool, int) {
	if !i.draw(func(s Settings) float64 { return s.ThrottleRate }) {
		return false, 0
	}
	after := i.Settings().RetryAfterSeconds
	if after == 0 {
		after = 1
	}
	return true, after
}

// DropAfterCommit draws whether a filing, once committed, goes unanswered.
func (i *Injector) DropAfterCommit() bool {
	return i.draw(func(s Settings) float64 { return s.TimeoutAfterCommitRate })
}

// IgnoreConsultationGUID says whether filings get a GUID of the simulator's own.
func (i *Injector) IgnoreConsultationGUID() bool { return i.Settings().IgnoreConsultationGUID }

func (i *Injector) draw(rate func(Settings) float64) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	r := rate(i.settings)
	return r > 0 && i.rng.Float64() < r
}
