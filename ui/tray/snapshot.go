package tray

import (
	"errors"
	"fmt"
	"maps"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Snapshot is what the tray knows of the service: nothing until the watch stream's first
// event, then the status as the service sees this caller and every unfinished record.
type Snapshot struct {
	// Connected is true from the first state event of a watch stream until the stream ends.
	Connected bool
	Status    apitype.Status
	// Records holds every record not finished, by id, as the latest event described it.
	Records map[uint64]apitype.Record
}

// errNoState is returned for a status or record event before the first state event.
var errNoState = errors.New("event before the first state event")

// Apply folds one watch event into s. A malformed event (a state or status event without a
// status, a record event without a record, anything before the first state event) leaves s
// unchanged and returns an error naming what was wrong; the caller treats the stream as
// broken. Events of a type this version does not know are ignored, so newer services work.
func (s *Snapshot) Apply(e apitype.Event) error {
	switch e.Type {
	case apitype.EventState:
		if e.Status == nil {
			return fmt.Errorf("tray: %s event without a status", e.Type)
		}
		recs := make(map[uint64]apitype.Record, len(e.Records))
		for _, r := range e.Records {
			if !r.State.Terminal() {
				recs[r.ID] = r
			}
		}
		s.Connected, s.Status, s.Records = true, *e.Status, recs
	case apitype.EventStatus:
		if !s.Connected {
			return fmt.Errorf("tray: %s event: %w", e.Type, errNoState)
		}
		if e.Status == nil {
			return fmt.Errorf("tray: %s event without a status", e.Type)
		}
		s.Status = *e.Status
	case apitype.EventRecord:
		if !s.Connected {
			return fmt.Errorf("tray: %s event: %w", e.Type, errNoState)
		}
		if e.Record == nil {
			return fmt.Errorf("tray: %s event without a record", e.Type)
		}
		if e.Record.State.Terminal() {
			delete(s.Records, e.Record.ID)
		} else {
			s.Records[e.Record.ID] = *e.Record
		}
	}
	return nil
}

// Clone returns a copy of s that later events do not change.
func (s *Snapshot) Clone() *Snapshot {
	c := *s
	c.Records = maps.Clone(s.Records)
	return &c
}

// Disconnect forgets everything: the tray knows nothing while the service is away.
func (s *Snapshot) Disconnect() {
	*s = Snapshot{}
}

// Mine returns how many of the caller's own records wait for their confirmation and how
// many have stopped and need their attention.
func (s *Snapshot) Mine() (confirm, attention int) {
	for _, r := range s.Records {
		if !r.Mine {
			continue
		}
		switch r.State {
		case queue.NeedsConfirmation:
			confirm++
		case queue.NeedsAttention:
			attention++
		}
	}
	return confirm, attention
}

// mineWaiting returns the ids of the caller's records waiting for their confirmation.
func (s *Snapshot) mineWaiting() []uint64 {
	var ids []uint64
	for id, r := range s.Records {
		if r.Mine && r.State == queue.NeedsConfirmation {
			ids = append(ids, id)
		}
	}
	return ids
}
