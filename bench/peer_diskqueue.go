package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	diskqueue "github.com/nsqio/go-diskqueue"
)

// diskqueue: github.com/nsqio/go-diskqueue (NSQ's on-disk queue) with SyncEvery=1.
//
// It cannot be made durable per operation: Put hands the message to the ioLoop goroutine,
// which writes it (write(2), no sync) and replies on writeResponseChan at once; only on
// its next loop iteration does it see count == syncEvery and call sync() (fsync of the data
// file, then of a rewritten metadata file). So Put returns before the fsync: an
// acknowledged message can be lost by a crash. Reported under peers_not_durable. There
// is no ack either: Claim receives from ReadChan (which advances the read position,
// persisted on the next sync) and Done is a no-op.
func init() {
	register("diskqueue", openDiskqueue,
		notDurable("Put returns before fsync: ioLoop replies on writeResponseChan right after write(2) and syncs only on its next iteration (SyncEvery=1), so an acknowledged Put can be lost in a crash"),
		withNote("claim = read, done = no-op"))
}

type diskqueueStore struct {
	q   diskqueue.Interface
	ids atomic.Uint64
}

func openDiskqueue(dir string) (Store, error) {
	q := diskqueue.New("bench", dir, 64<<20, 0, 1<<20, 1, 2*time.Second,
		func(diskqueue.LogLevel, string, ...interface{}) {})
	return &diskqueueStore{q: q}, nil
}

func (s *diskqueueStore) Name() string {
	return "github.com/nsqio/go-diskqueue v1.1.0, SyncEvery=1 (fsync after each Put, but after Put has returned)"
}

func (s *diskqueueStore) Enqueue(_ context.Context, jobID string, payload []byte) error {
	return s.q.Put(encodeRecord(jobID, payload))
}

// Claim waits up to 50 ms for a message: the ioLoop hands out messages on an unbuffered
// channel and may be busy syncing.
func (s *diskqueueStore) Claim(ctx context.Context) (string, []byte, bool, error) {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case msg := <-s.q.ReadChan():
		_, p, err := decodeRecord(msg)
		if err != nil {
			return "", nil, false, err
		}
		return strconv.FormatUint(s.ids.Add(1), 10), p, true, nil
	case <-t.C:
		return "", nil, false, nil
	case <-ctx.Done():
		return "", nil, false, ctx.Err()
	}
}

func (s *diskqueueStore) Done(context.Context, string) error { return nil }

func (s *diskqueueStore) Close() error {
	if err := s.q.Close(); err != nil {
		return fmt.Errorf("diskqueue close: %w", err)
	}
	return nil
}
