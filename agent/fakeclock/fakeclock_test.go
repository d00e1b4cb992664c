package fakeclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/fakeclock"
)

func TestStandsStillUntilMoved(t *testing.T) {
	start := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
	c := fakeclock.New(start)
	time.Sleep(time.Millisecond)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now() = %v, want %v", got, start)
	}
	c.Advance(90 * time.Minute)
	c.Advance(-30 * time.Minute)
	if got, want := c.Now(), start.Add(time.Hour); !got.Equal(want) {
		t.Errorf("after moving: %v, want %v", got, want)
	}
}

func TestSafeForConcurrentUse(t *testing.T) {
	start := time.Now()
	c := fakeclock.New(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(800*time.Second); !got.Equal(want) {
		t.Errorf("after 800 moves of a second: %v, want %v", got, want)
	}
}
