package queue

import (
	"math"
	"time"
)

// RetryPolicy is the back-off between filing attempts that failed for a passing reason:
// exponential from Initial by Multiplier, capped at Max, with a random part so that many
// records (and many practices) do not retry in step. After MaxAttempts consecutive failures
// the record needs attention instead.
type RetryPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	Multiplier  float64
	Jitter      float64 // 0..1: the share of each delay that is random
	MaxAttempts int
}

// DefaultRetryPolicy retries after about 10 s, 20 s, 40 s … up to every 30 min, and asks
// for attention after 12 failures in a row (about 3 hours).
var DefaultRetryPolicy = RetryPolicy{
	Initial:     10 * time.Second,
	Max:         30 * time.Minute,
	Multiplier:  2,
	Jitter:      0.5,
	MaxAttempts: 12,
}

// Delay returns the wait before retry number n (1 for the first retry); r is a uniform
// random number in [0, 1).
func (p RetryPolicy) Delay(n int, r float64) time.Duration {
	if n < 1 {
		n = 1
	}
	d := float64(p.Initial) * math.Pow(p.Multiplier, float64(n-1))
	if d > float64(p.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(p.Max)
	}
	// Equal jitter: keep (1-Jitter) of the delay, randomise the rest.
	d = d*(1-p.Jitter) + d*p.Jitter*r
	return time.Duration(d)
}
