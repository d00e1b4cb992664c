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
	// The view's buckets, opened once: opening one is a lookup in bbolt's root and an
	// allocation, and a group reads through them several times per operation.
	jobs, records *bolt.Bucket
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

// bucket returns the view's bucket b.
func (t *wtx) bucket(b byte) *bolt.Bucket {
	p := &t.records
	if b == walBucketJobs {
		p = &t.jobs
	}
	if *p == nil {
		*p = t.view.Bucket(bucketName(b))
		(*p).FillPercent = recordsFill
	}
	return *p
}

// get returns the current value of key, or nil. The result must not be modified. In a
// group an audit entry is not found (see mutation.lookedUp): read them with Queue.Audit.
func (t *wtx) get(bucket byte, key []byte) []byte {
	return t.getAt(bucket, key, "")
}

// getAt is get with the key's overlayKey made already (or "": make it). An operation can
// make its keys before it joins a group, beside the others, rather than in the group,
// which the commit leader runs alone.
func (t *wtx) getAt(bucket byte, key []byte, ok string) []byte {
	if t.direct() {
		return t.bucket(bucket).Get(key)
	}
	if ok == "" {
		ok = overlayKey(bucket, key)
	}
	if i, found := t.local[ok]; found {
		return t.muts[i].value
	}
	if v, found := t.q.ov.get(ok); found {
		return v
	}
	return t.bucket(bucket).Get(key)
}

func (t *wtx) put(bucket byte, key, value []byte) error {
	return t.putAt(bucket, key, "", value)
}

// putAt is put with the key's overlayKey made already (or "": make it if needed).
func (t *wtx) putAt(bucket byte, key []byte, ok string, value []byte) error {
	if t.direct() {
		return t.bucket(bucket).Put(key, value)
	}
	t.add(mutation{bucket: bucket, key: key, value: value}, ok)
	return nil
}

func (t *wtx) del(bucket byte, key []byte) error {
	if t.direct() {
		return t.bucket(bucket).Delete(key)
	}
	t.add(mutation{bucket: bucket, key: key, del: true}, "")
	return nil
}

// add collects m for the group's frame and, if its key is looked up (see
// mutation.lookedUp), notes it as the latest write of that key; ok is the key's
// overlayKey, or "" to make it.
func (t *wtx) add(m mutation, ok string) {
	if m.lookedUp() {
		if ok == "" {
			ok = overlayKey(m.bucket, m.key)
		}
		m.okey = ok
		t.local[ok] = len(t.muts)
	}
	t.muts = append(t.muts, m)
	t.size += len(m.key) + len(m.value)
}

// overlay holds the latest value of every key changed by a group that is logged (and so
// acknowledged) but not yet applied to bbolt, so reads see it; audit entries excepted (see
// mutation.lookedUp). Guarded by Queue.applyMu.
type overlay struct {
	m     map[string]overlayVal
	bytes int // the sizes of the groups held: how far the applier is behind
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
		if !m.lookedUp() {
			continue
		}
		v := overlayVal{seq: g.seq}
		if !m.del {
			v.value = m.value
		}
		o.m[m.overlayKey()] = v
	}
	o.bytes += g.size
	o.peak = max(o.peak, len(o.m))
}

// drop forgets the changes of applied groups, unless a later group changed the key again.
// Caller holds applyMu for writing.
func (o *overlay) drop(gs []*group) {
	for _, g := range gs {
		for i := range g.muts {
			if !g.muts[i].lookedUp() {
				continue
			}
			k := g.muts[i].overlayKey()
			if v, ok := o.m[k]; ok && v.seq <= g.seq {
				delete(o.m, k)
			}
		}
		o.bytes -= g.size
	}
	// A map that keeps taking inserts and deletes fills with tombstones and its lookups
	// slow down; once it holds a small part of what it held, start a new one.
	if len(o.m) <= o.peak/4 && o.peak >= 1024 {
		m := make(map[string]overlayVal, 2*len(o.m))
		maps.Copy(m, o.m)
		o.m, o.peak = m, len(m)
	}
}
