package queue

import (
	"maps"

	bolt "go.etcd.io/bbolt"
)

// wtx is what an operation reads and writes through. In a group commit it reads its own
// group's writes first, then the overlay of groups already logged but not yet applied to
// bbolt, then bbolt itself; its writes are collected as mutations for the log. At open it
// wraps a writable bbolt transaction directly.
type wtx struct {
	q     *Queue
	view  *bolt.Tx // read-only snapshot (group mode) or the writable transaction (direct mode)
	muts  []mutation
	local map[string]int // bucket+key → index in muts of its latest write
	size  int
}

func overlayKey(bucket byte, key []byte) string {
	b := make([]byte, 0, 1+len(key))
	b = append(b, bucket)
	return string(append(b, key...))
}

func bucketName(b byte) []byte {
	if b == walBucketJobs {
		return bucketJobs
	}
	return bucketRecords
}

func (t *wtx) direct() bool { return t.local == nil }

// get returns the current value of key, or nil. The result must not be modified.
func (t *wtx) get(bucket byte, key []byte) []byte {
	if t.direct() {
		return t.view.Bucket(bucketName(bucket)).Get(key)
	}
	ok := overlayKey(bucket, key)
	if i, found := t.local[ok]; found {
		return t.muts[i].value
	}
	if v, found := t.q.ov.get(ok); found {
		return v
	}
	return t.view.Bucket(bucketName(bucket)).Get(key)
}

func (t *wtx) put(bucket byte, key, value []byte) error {
	if t.direct() {
		b := t.view.Bucket(bucketName(bucket))
		b.FillPercent = recordsFill
		return b.Put(key, value)
	}
	ok := overlayKey(bucket, key)
	t.local[ok] = len(t.muts)
	t.muts = append(t.muts, mutation{bucket: bucket, key: key, value: value, okey: ok})
	t.size += len(key) + len(value)
	return nil
}

func (t *wtx) del(bucket byte, key []byte) error {
	if t.direct() {
		return t.view.Bucket(bucketName(bucket)).Delete(key)
	}
	ok := overlayKey(bucket, key)
	t.local[ok] = len(t.muts)
	t.muts = append(t.muts, mutation{bucket: bucket, key: key, del: true, okey: ok})
	t.size += len(key)
	return nil
}

// overlay holds the latest value of every key changed by a group that is logged (and so
// acknowledged) but not yet applied to bbolt, so reads see it. Guarded by Queue.applyMu.
type overlay struct {
	m     map[string]overlayVal
	bytes int
	peak  int // most entries m has held since it was made
}

type overlayVal struct {
	value []byte // nil: deleted
	seq   uint64 // the group that wrote it
}

func (o *overlay) get(k string) ([]byte, bool) {
	v, ok := o.m[k]
	return v.value, ok
}

// add records a logged group. Caller holds applyMu for writing.
func (o *overlay) add(g *group) {
	for i := range g.muts {
		m := &g.muts[i]
		k := m.overlayKey()
		if old, ok := o.m[k]; ok {
			o.bytes -= len(k) + len(old.value)
		}
		v := overlayVal{seq: g.seq}
		if !m.del {
			v.value = m.value
		}
		o.m[k] = v
		o.bytes += len(k) + len(v.value)
	}
	o.peak = max(o.peak, len(o.m))
}

// drop forgets the changes of applied groups, unless a later group changed the key again.
// Caller holds applyMu for writing.
func (o *overlay) drop(gs []*group) {
	for _, g := range gs {
		for i := range g.muts {
			k := g.muts[i].overlayKey()
			if v, ok := o.m[k]; ok && v.seq <= g.seq {
				o.bytes -= len(k) + len(v.value)
				delete(o.m, k)
			}
		}
	}
	// A map that keeps taking inserts and deletes fills with tombstones and its lookups
	// slow down; once it holds a small part of what it held, start a new one.
	if len(o.m) <= o.peak/4 && o.peak >= 1024 {
		m := make(map[string]overlayVal, 2*len(o.m))
		maps.Copy(m, o.m)
		o.m, o.peak = m, len(m)
	}
}
