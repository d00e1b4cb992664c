package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Low-level reads and writes of the buckets, used inside transactions.

func idKey(id uint64) []byte { return u64(id) }

func indexKey(s State, id uint64) []byte {
	k := make([]byte, 9)
	k[0] = stateCodes[s]
	binary.BigEndian.PutUint64(k[1:], id)
	return k
}

// indexValue holds what the writer needs to choose work without opening the record: the
// time it is due (retry or lease expiry) and its author.
func indexValue(due time.Time, author string) []byte {
	v := make([]byte, 8+len(author))
	if !due.IsZero() {
		binary.BigEndian.PutUint64(v, uint64(due.UnixNano()))
	}
	copy(v[8:], author)
	return v
}

func parseIndexValue(v []byte) (due time.Time, author string) {
	if len(v) < 8 {
		return time.Time{}, ""
	}
	if n := binary.BigEndian.Uint64(v); n != 0 {
		due = time.Unix(0, int64(n))
	}
	return due, string(v[8:])
}

func wipeKey(due time.Time, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(due.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

func countKey(s State) []byte { return []byte("count/" + string(s)) }

// getRecord reads and opens a record.
func (q *Queue) getRecord(tx *bolt.Tx, id uint64) (*Record, error) {
	k := idKey(id)
	v := tx.Bucket(bucketRecords).Get(k)
	if v == nil {
		return nil, fmt.Errorf("record %d: %w", id, ErrNotFound)
	}
	pt, err := q.sealer.Open(nil, v, adFor(adRecord, k))
	if err != nil {
		return nil, fmt.Errorf("record %d: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(pt, &r); err != nil {
		return nil, fmt.Errorf("record %d: decode: %w", id, err)
	}
	return &r, nil
}

// putRecord seals and writes a record, keeping the state index, the counters and the
// retention schedule in step with the state it had before (prev is "" for a new record).
func (q *Queue) putRecord(tx *bolt.Tx, r *Record, prev State) error {
	pt, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record %d: encode: %w", r.ID, err)
	}
	k := idKey(r.ID)
	if err := tx.Bucket(bucketRecords).Put(k, q.sealer.Seal(nil, pt, adFor(adRecord, k))); err != nil {
		return fmt.Errorf("record %d: put: %w", r.ID, err)
	}
	return q.reindex(tx, r, prev)
}

// reindex moves a record's index entry and counters from prev to its current state.
func (q *Queue) reindex(tx *bolt.Tx, r *Record, prev State) error {
	idx := tx.Bucket(bucketIndex)
	if prev != "" {
		if err := idx.Delete(indexKey(prev, r.ID)); err != nil {
			return err
		}
	}
	var due time.Time
	switch r.State {
	case Ready:
		due = r.NextAttemptAt
	case Filing:
		if r.Lease != nil {
			due = r.Lease.Expires
		}
	}
	if err := idx.Put(indexKey(r.State, r.ID), indexValue(due, r.Author)); err != nil {
		return err
	}
	if prev != r.State {
		meta := tx.Bucket(bucketMeta)
		if prev != "" {
			if err := addCount(meta, prev, -1); err != nil {
				return err
			}
		}
		if err := addCount(meta, r.State, +1); err != nil {
			return err
		}
		if r.State.Terminal() && r.WipedAt.IsZero() {
			due := r.UpdatedAt.Add(q.opts.Retention)
			if err := tx.Bucket(bucketWipe).Put(wipeKey(due, r.ID), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func addCount(meta *bolt.Bucket, s State, delta int64) error {
	k := countKey(s)
	var n uint64
	if v := meta.Get(k); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n = uint64(int64(n) + delta)
	return meta.Put(k, u64(n))
}
