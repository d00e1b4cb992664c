package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/ui/tray"
)

// fixtureStream replays the events of a file, then waits until closed, as a quiet service
// would.
type fixtureStream struct {
	events []apitype.Event
	done   chan struct{}
}

// dialFixture returns a tray.Dial that replays path's events.
func dialFixture(path string) tray.Dial {
	return func(ctx context.Context) (tray.Stream, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("fixture: %w", err)
		}
		defer f.Close()
		s := &fixtureStream{done: make(chan struct{})}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var e apitype.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				return nil, fmt.Errorf("fixture %s: %w", path, err)
			}
			s.events = append(s.events, e)
		}
		return s, sc.Err()
	}
}

func (s *fixtureStream) Next() (apitype.Event, error) {
	if len(s.events) > 0 {
		e := s.events[0]
		s.events = s.events[1:]
		return e, nil
	}
	<-s.done
	return apitype.Event{}, context.Canceled
}

func (s *fixtureStream) Close() error {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	return nil
}
