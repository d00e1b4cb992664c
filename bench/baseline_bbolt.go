package main

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// bbolt-naive: the obvious way to build a queue on bbolt, as a reference row and as the
// stand-in for ours until ours.go registers. Default options; one db.Update (one commit,
// i.e. a page write + fdatasync, then a meta-page write + fdatasync) per Enqueue and per
// Done; no group commit, so concurrent producers just queue up on bbolt's writer lock.
// Keys are bucket.NextSequence() (big-endian), so key order is commit order and Claim can
// walk a cursor past the last claimed key with a read-only transaction (no fsync).
func init() {
	register("bbolt-naive", openBboltNaive, baseline(), withNote("one db.Update per op"))
}

var bboltBucket = []byte("q")

type bboltNaive struct {
	db *bolt.DB

	mu   sync.Mutex // serialises Claim
	next uint64     // smallest sequence not yet claimed
}

func openBboltNaive(dir string) (Store, error) {
	db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, nil)
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bboltBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &bboltNaive{db: db}, nil
}

func (s *bboltNaive) Name() string {
	return "go.etcd.io/bbolt v1.5.0, default options, one Update per Enqueue and per Done"
}

func (s *bboltNaive) Enqueue(_ context.Context, jobID string, payload []byte) error {
	rec := encodeRecord(jobID, payload)
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bboltBucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(seqKey('q', seq)[1:], rec)
	})
}

func (s *bboltNaive) Claim(context.Context) (string, []byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		key     []byte
		payload []byte
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bboltBucket).Cursor()
		k, v := c.Seek(seqKey('q', s.next)[1:])
		if k == nil {
			return nil
		}
		if len(k) != 8 {
			return errors.New("bbolt-naive: bad key")
		}
		_, p, err := decodeRecord(v)
		if err != nil {
			return err
		}
		key = append([]byte(nil), k...)
		payload = append([]byte(nil), p...) // v is only valid inside the transaction
		return nil
	})
	if err != nil || key == nil {
		return "", nil, false, err
	}
	s.next = binary.BigEndian.Uint64(key) + 1
	return string(key), payload, true, nil
}

func (s *bboltNaive) Done(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bboltBucket).Delete([]byte(id))
	})
}

func (s *bboltNaive) Close() error { return s.db.Close() }
