package queue

import (
	"bytes"
	"cmp"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// wtx is what an operation reads and writes through. In a group commit its writes are
// collected as mutations and reads see the group's own writes first, then the bbolt
// transaction; the group's mutations are written into that transaction once every operation
// in it has run, so an operation that fails is dropped without undoing anything. At open it
// wraps a writable bbolt transaction directly.
type wtx struct {
	q     *Queue
	view  *bolt.Tx // the group's transaction (group mode) or the transaction itself (direct mode)
	muts  []mutation
	local map[string]int // bucket+key → index in muts of its latest write
	// The transaction's buckets, opened once.
	jobs, records *bolt.Bucket
}

// mutation is one change to a bucket.
type mutation struct {
	bucket byte
	key    []byte
	value  []byte // nil for a delete
	del    bool
}

// Bucket ids of mutations.
const (
	bRecords = walBucketRecords
	bJobs    = walBucketJobs
)

func localKey(bucket byte, key []byte) string {
	b := make([]byte, 0, 1+len(key))
	b = append(b, bucket)
	return string(append(b, key...))
}

func bucketName(b byte) []byte {
	if b == bJobs {
		return bucketJobs
	}
	return bucketRecords
}

func (t *wtx) direct() bool { return t.local == nil }

// bucket returns the transaction's bucket b.
func (t *wtx) bucket(b byte) *bolt.Bucket {
	p := &t.records
	if b == bJobs {
		p = &t.jobs
	}
	if *p == nil {
		*p = t.view.Bucket(bucketName(b))
		(*p).FillPercent = recordsFill
	}
	return *p
}

// get returns the current value of key, or nil. The result must not be modified.
func (t *wtx) get(bucket byte, key []byte) []byte {
	if !t.direct() {
		if i, found := t.local[localKey(bucket, key)]; found {
			return t.muts[i].value
		}
	}
	return t.bucket(bucket).Get(key)
}

func (t *wtx) put(bucket byte, key, value []byte) error {
	if t.direct() {
		return t.bucket(bucket).Put(key, value)
	}
	t.add(mutation{bucket: bucket, key: key, value: value})
	return nil
}

func (t *wtx) del(bucket byte, key []byte) error {
	if t.direct() {
		return t.bucket(bucket).Delete(key)
	}
	t.add(mutation{bucket: bucket, key: key, del: true})
	return nil
}

func (t *wtx) add(m mutation) {
	t.local[localKey(m.bucket, m.key)] = len(t.muts)
	t.muts = append(t.muts, m)
}

// flush writes the group's mutations into its transaction: the last change of each key, in
// key order (bbolt then walks each page once, appending where keys are new).
func (t *wtx) flush() error {
	muts := make([]*mutation, len(t.muts))
	for i := range t.muts {
		muts[i] = &t.muts[i]
	}
	slices.SortStableFunc(muts, func(a, b *mutation) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
	for i, m := range muts {
		if i+1 < len(muts) && muts[i+1].bucket == m.bucket && bytes.Equal(muts[i+1].key, m.key) {
			continue // changed again later in the group
		}
		b := t.bucket(m.bucket)
		var err error
		if m.del {
			err = b.Delete(m.key)
		} else {
			err = b.Put(m.key, m.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
