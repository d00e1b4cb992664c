// Package bus tells the parts of the service that show state (the local API's watch
// streams, the metrics) that something changed: which records, or that the status may have.
// Publishing never blocks: each subscriber's pending changes are merged until it takes
// them, and a subscriber that falls too far behind is told to fetch everything again.
package bus

import (
	"slices"
	"sync"
)

// Event is what changed since a subscriber last took its events.
type Event struct {
	// Records are the ids of records that changed (each at most once, in the order first
	// seen).
	Records []uint64
	// Status: something the overall status is made of changed (a link, a condition).
	Status bool
	// Resync: the subscriber fell behind and changes were dropped; Records is empty and the
	// subscriber should fetch the whole state again.
	Resync bool
}

// Empty reports whether e says nothing changed.
func (e Event) Empty() bool { return len(e.Records) == 0 && !e.Status && !e.Resync }

// Bus fans events out to subscribers. The zero value is not usable: call New.
type Bus struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// New returns a bus without subscribers.
func New() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Publish adds e to every subscriber's pending event. It never blocks.
func (b *Bus) Publish(e Event) {
	if e.Empty() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		s.add(e)
	}
}

// Subscribe returns a subscription that receives every event published from now on.
// limit bounds how many record ids it holds before it is told to resync instead; 0 means
// no bound (for in-process consumers that always keep up).
func (b *Bus) Subscribe(limit int) *Subscription {
	s := &Subscription{bus: b, limit: limit, ready: make(chan struct{}, 1), seen: map[uint64]bool{}}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Subscription is one subscriber's view of the bus.
type Subscription struct {
	bus   *Bus
	limit int
	ready chan struct{}

	mu      sync.Mutex
	pending Event
	seen    map[uint64]bool // ids in pending.Records
}

func (s *Subscription) add(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.pending
	p.Status = p.Status || e.Status
	p.Resync = p.Resync || e.Resync
	if !p.Resync {
		for _, id := range e.Records {
			if !s.seen[id] {
				s.seen[id] = true
				p.Records = append(p.Records, id)
			}
		}
		if s.limit > 0 && len(p.Records) > s.limit {
			p.Resync = true
		}
	}
	if p.Resync {
		p.Records = nil
		clear(s.seen)
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready receives a value when events are pending; then call Take.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the pending events merged into one, and clears them.
func (s *Subscription) Take() Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.pending
	e.Records = slices.Clip(e.Records)
	s.pending = Event{}
	clear(s.seen)
	return e
}

// Close unsubscribes. Events published afterwards are not kept.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}
