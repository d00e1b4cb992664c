// Package fakeclock is a clock for tests: it stands still until the test moves it, so that
// a test can expire tokens, sessions or leases without waiting. Pass Clock.Now wherever the
// code under test takes a func() time.Time. It imports nothing of this module, so that the
// tests of any package, the simulator's included, can use it.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a moveable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that reads t until it is moved.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d forward (backward, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
