package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// leveldb: github.com/syndtr/goleveldb (the store under goque) with WriteOptions{Sync:
// true} on every write, default DB options. Group commit comes from goleveldb itself:
// DB.Write/Put merge concurrent writers by default (db_write.go: a writer that finds the
// write lock held hands its batch over writeMergeC to the holder, which appends up to
// ~128 KB of waiting batches to its own and writes them as one journal record with one
// fsync if any of them asked for Sync; merging is disabled only by NoWriteMerge). So 64
// producers share fsyncs without any code of ours.
//
// Layout: key 'q'+seq (big-endian) → encodeRecord(jobID, payload). Pending items are
// also listed in memory, in the order their Put returned (= durable), so Claim pops the
// oldest and reads its value (an in-memory lease, no write); Done is a synced Delete,
// merged like the Puts. (goque itself serialises every operation behind one mutex, so it
// would get no merging: this is leveldb in its best durable mode.)
func init() {
	register("leveldb", openLevelDB, withNote("Sync:true, leveldb write merging"))
}

type levelDBStore struct {
	db  *leveldb.DB
	seq atomic.Uint64

	mu      sync.Mutex
	pending []uint64 // durable, unclaimed, oldest first
	head    int
}

var syncWrite = &opt.WriteOptions{Sync: true}

func openLevelDB(dir string) (Store, error) {
	db, err := leveldb.OpenFile(dir, nil)
	if err != nil {
		return nil, err
	}
	return &levelDBStore{db: db}, nil
}

func (s *levelDBStore) Name() string {
	return "github.com/syndtr/goleveldb (126854af5e6d), default options, WriteOptions{Sync:true}, concurrent writes merged by leveldb"
}

func (s *levelDBStore) Enqueue(_ context.Context, jobID string, payload []byte) error {
	seq := s.seq.Add(1)
	if err := s.db.Put(seqKey('q', seq), encodeRecord(jobID, payload), syncWrite); err != nil {
		return err
	}
	s.mu.Lock()
	s.pending = append(s.pending, seq)
	s.mu.Unlock()
	return nil
}

func (s *levelDBStore) Claim(context.Context) (string, []byte, bool, error) {
	s.mu.Lock()
	if s.head == len(s.pending) {
		s.mu.Unlock()
		return "", nil, false, nil
	}
	seq := s.pending[s.head]
	s.head++
	if s.head > 4096 && s.head*2 > len(s.pending) { // compact the slice now and then
		s.pending = append(s.pending[:0], s.pending[s.head:]...)
		s.head = 0
	}
	s.mu.Unlock()
	v, err := s.db.Get(seqKey('q', seq), nil)
	if err != nil {
		return "", nil, false, fmt.Errorf("leveldb get %d: %w", seq, err)
	}
	_, p, err := decodeRecord(v)
	if err != nil {
		return "", nil, false, err
	}
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], seq)
	return string(id[:]), p, true, nil
}

func (s *levelDBStore) Done(_ context.Context, id string) error {
	if len(id) != 8 {
		return fmt.Errorf("leveldb: bad id")
	}
	return s.db.Delete(append([]byte{'q'}, id...), syncWrite)
}

func (s *levelDBStore) Close() error { return s.db.Close() }
