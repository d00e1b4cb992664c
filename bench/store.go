package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Store is what every benchmarked queue implements: the product's queue (ours.go), the
// peers (peer_*.go) and the baseline (baseline_bbolt.go).
//
// Contract, checked by the harness and by TestStoreConformance:
//   - Enqueue returns only once the record is durable (fsync'd, or fdatasync'd). A store
//     that cannot promise that is registered with notDurable(why).
//   - Claim takes the oldest pending item that nobody has claimed yet and returns an opaque
//     id plus the payload that was enqueued; ok=false when nothing is pending. A claim need
//     not be durable (an in-memory lease is fine: after a crash an unfinished claim is
//     simply delivered again).
//   - Done marks a claimed item finished, durably: it must never be delivered again.
//   - All methods are safe for concurrent use by many goroutines.
//   - payload passed to Enqueue is owned by the caller once Enqueue returns (copy it if you
//     keep it); the payload returned by Claim is owned by the caller.
type Store interface {
	Name() string // one line: library and the mode it is run in
	Enqueue(ctx context.Context, jobID string, payload []byte) error
	Claim(ctx context.Context) (id string, payload []byte, ok bool, err error)
	Done(ctx context.Context, id string) error
	Close() error
}

// Factory opens a store in dir, an empty directory that exists and belongs to that store
// alone. The harness calls it once per workload with a fresh directory.
type Factory func(dir string) (Store, error)

// BacklogBuilder is optional. The enqueue_1_backlog workload first builds a backlog: n
// records queued, then drained to done. By default the harness does it through the Store
// interface (n Enqueues by `producers` goroutines, then Claim+Done by `producers`
// goroutines until the queue is empty). A store that has a better or more realistic way
// (its own worker loop, say) implements BuildBacklog; it must leave every record done.
// next returns a fresh job id and payload each call and is safe for concurrent use.
type BacklogBuilder interface {
	BuildBacklog(ctx context.Context, n, producers int, next func() (jobID string, payload []byte)) error
}

// encodeRecord packs a job id and a payload into one value, for stores that keep both
// under a store-assigned key: uvarint(len(jobID)) | jobID | payload.
func encodeRecord(jobID string, payload []byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(jobID)+len(payload))
	b = binary.AppendUvarint(b, uint64(len(jobID)))
	b = append(b, jobID...)
	return append(b, payload...)
}

var errBadRecord = errors.New("corrupt record")

// decodeRecord is the inverse of encodeRecord. The returned payload aliases rec.
func decodeRecord(rec []byte) (jobID string, payload []byte, err error) {
	n, w := binary.Uvarint(rec)
	if w <= 0 || uint64(len(rec)-w) < n {
		return "", nil, fmt.Errorf("%w: %d bytes", errBadRecord, len(rec))
	}
	return string(rec[w : w+int(n)]), rec[w+int(n):], nil
}

// seqKey is an 8-byte big-endian key, so byte order is numeric order.
func seqKey(prefix byte, seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}
