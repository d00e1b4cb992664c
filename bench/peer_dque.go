package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/joncrlsn/dque"
)

// dque: github.com/joncrlsn/dque with turbo off (its default), i.e. every Enqueue appends
// the gob-encoded item to the current segment file and fsyncs before returning, under one
// queue-wide mutex: durable, but no group commit exists, so 64 producers are serialised
// behind one fsync each. dque has no claim/ack: Dequeue removes the item durably (it
// appends a delete marker and fsyncs), so Claim is that Dequeue and Done is a no-op
// (at-most-once: a crash after Claim loses the item).
func init() {
	register("dque", openDque, withNote("claim = durable Dequeue, done = no-op"))
}

type dqueItem struct {
	JobID   string
	Payload []byte
}

type dqueStore struct {
	q   *dque.DQue
	ids atomic.Uint64
}

const dqueItemsPerSegment = 1000

func openDque(dir string) (Store, error) {
	q, err := dque.NewOrOpen("bench", dir, dqueItemsPerSegment, func() interface{} { return &dqueItem{} })
	if err != nil {
		return nil, err
	}
	if q.Turbo() {
		q.Close()
		return nil, errors.New("dque: turbo is on; it must be off to be durable")
	}
	return &dqueStore{q: q}, nil
}

func (s *dqueStore) Name() string {
	return fmt.Sprintf("github.com/joncrlsn/dque (c2ef48c5192a), turbo off (fsync per Enqueue and per Dequeue), %d items/segment", dqueItemsPerSegment)
}

func (s *dqueStore) Enqueue(_ context.Context, jobID string, payload []byte) error {
	// dque keeps the object in memory too, so give it its own copy.
	return s.q.Enqueue(&dqueItem{JobID: jobID, Payload: append([]byte(nil), payload...)})
}

func (s *dqueStore) Claim(context.Context) (string, []byte, bool, error) {
	obj, err := s.q.Dequeue()
	if errors.Is(err, dque.ErrEmpty) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, err
	}
	it, ok := obj.(*dqueItem)
	if !ok {
		return "", nil, false, fmt.Errorf("dque: unexpected item type %T", obj)
	}
	return strconv.FormatUint(s.ids.Add(1), 10), it.Payload, true, nil
}

func (s *dqueStore) Done(context.Context, string) error { return nil }

func (s *dqueStore) Close() error { return s.q.Close() }
