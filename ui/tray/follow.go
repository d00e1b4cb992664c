package tray

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// Stream is an open watch stream (client.Watcher satisfies it).
type Stream interface {
	// Next blocks until the next event; io.EOF means the service ended the stream.
	Next() (apitype.Event, error)
	// Close ends the stream; a Next in progress returns.
	Close() error
}

// Dial opens a watch stream.
type Dial func(ctx context.Context) (Stream, error)

// DialClient returns a Dial that watches through c.
func DialClient(c *client.Client) Dial {
	return func(ctx context.Context) (Stream, error) { return c.Watch(ctx) }
}

// Backoff bounds the wait between attempts to reach the service: Min after a stream that
// worked for at least Stable, doubling after each other attempt up to Max (so a service that
// keeps dropping the stream at once is not reconnected to ever faster). FirstEvent bounds how
// long a new stream may take to send its first event before it is abandoned.
type Backoff struct {
	Min, Max   time.Duration
	Stable     time.Duration
	FirstEvent time.Duration
}

// DefaultBackoff is the tray's: retry after half a second, at most every 30 s.
var DefaultBackoff = Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second, Stable: 10 * time.Second, FirstEvent: 30 * time.Second}

// Follow keeps a watch stream open until ctx ends, folding its events into a Snapshot and
// calling update after each event, and once with a disconnected Snapshot
// whenever the service cannot be reached or its stream breaks or sends a malformed event
// (each such failure is logged once per change). It waits on the stream and on timers
// only: it never polls. update runs on Follow's goroutine and must not keep s.
func Follow(ctx context.Context, dial Dial, b Backoff, log *slog.Logger, update func(s *Snapshot)) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var snap Snapshot
	update(&snap) // offline until the first event
	delay := b.Min
	lastErr := ""
	for ctx.Err() == nil {
		start := time.Now()
		worked, err := follow(ctx, dial, b.FirstEvent, log, &snap, update)
		if ctx.Err() != nil {
			return
		}
		if worked && time.Since(start) >= b.Stable {
			delay = b.Min
		}
		if msg := err.Error(); msg != lastErr || worked {
			log.Warn("tray: the service's watch stream is not available; retrying", "err", err, "retry_in", delay)
			lastErr = msg
		}
		if snap.Connected || worked {
			snap.Disconnect()
			update(&snap)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, b.Max)
	}
}

// follow reads one stream until it fails, reporting whether it delivered a state event.
func follow(ctx context.Context, dial Dial, firstEvent time.Duration, log *slog.Logger, snap *Snapshot, update func(*Snapshot)) (worked bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := dial(sctx)
	if err != nil {
		return false, err
	}
	var once sync.Once
	closeStream := func() { once.Do(func() { st.Close() }) }
	defer closeStream()
	// Close the stream when ctx ends, or when the first event is too slow to come.
	slow := make(chan struct{})
	var timer *time.Timer
	if firstEvent > 0 {
		timer = time.AfterFunc(firstEvent, func() { close(slow); closeStream() })
	}
	stop := context.AfterFunc(sctx, closeStream)
	defer stop()
	for {
		e, err := st.Next()
		if err != nil {
			select {
			case <-slow:
				return worked, errors.New("tray: the service sent nothing for too long after the stream opened")
			default:
			}
			if errors.Is(err, io.EOF) {
				return worked, errors.New("tray: the service ended the watch stream (it is stopping)")
			}
			return worked, err
		}
		if err := snap.Apply(e); err != nil {
			return worked, err
		}
		if !worked && timer != nil {
			if !timer.Stop() {
				return worked, errors.New("tray: the service sent nothing for too long after the stream opened")
			}
		}
		if !worked && snap.Connected {
			worked = true
			log.Info("tray: following the service's watch stream")
		}
		update(snap)
	}
}
