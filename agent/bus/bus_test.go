package bus

import (
	"slices"
	"sync"
	"testing"
)

func TestEventsMergeUntilTaken(t *testing.T) {
	b := New()
	s := b.Subscribe(0)
	defer s.Close()
	b.Publish(Event{Records: []uint64{3, 1}})
	b.Publish(Event{Records: []uint64{1, 2}})
	b.Publish(Event{Status: true})
	b.Publish(Event{}) // empty: ignored

	<-s.Ready()
	got := s.Take()
	if want := []uint64{3, 1, 2}; !slices.Equal(got.Records, want) || !got.Status || got.Resync {
		t.Errorf("Take = %+v, want records %v and status", got, want)
	}
	if e := s.Take(); !e.Empty() {
		t.Errorf("second Take = %+v, want empty", e)
	}
}

func TestASlowSubscriberIsToldToResync(t *testing.T) {
	b := New()
	s := b.Subscribe(2)
	defer s.Close()
	for id := range uint64(5) {
		b.Publish(Event{Records: []uint64{id}})
	}
	got := s.Take()
	if !got.Resync || len(got.Records) != 0 {
		t.Errorf("Take = %+v, want a resync without records", got)
	}
	b.Publish(Event{Records: []uint64{9}})
	if got := s.Take(); got.Resync || !slices.Equal(got.Records, []uint64{9}) {
		t.Errorf("after the resync: %+v", got)
	}
}

func TestClosedSubscriptionsGetNothing(t *testing.T) {
	b := New()
	s := b.Subscribe(0)
	s.Close()
	b.Publish(Event{Status: true})
	if e := s.Take(); !e.Empty() {
		t.Errorf("closed subscription got %+v", e)
	}
}

func TestConcurrentPublishersAndSubscribers(t *testing.T) {
	b := New()
	s := b.Subscribe(0)
	defer s.Close()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 100 {
				b.Publish(Event{Records: []uint64{uint64(p*100 + i)}})
			}
		})
	}
	seen := map[uint64]bool{}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for len(seen) < 400 {
		select {
		case <-s.Ready():
		case <-done:
		}
		for _, id := range s.Take().Records {
			seen[id] = true
		}
	}
}
