package queue

import (
	"container/heap"
	"slices"
	"sync"
	"time"
)

// The in-memory index is derived state: which records are live (not terminal) with their
// state, author and due time, how many records are in each state, and when each terminal
// record's patient content is due to be wiped. It is rebuilt from the records at open, and
// changed only by the writer, after a commit, so readers never see an uncommitted state.
// Keeping it out of the database means a transition writes the record and its audit entry
// and nothing else: every extra bucket a commit touches costs fsync-bound throughput.

// live is what the index keeps of a live record, in the set of its state.
type live struct {
	author string
	due    time.Time // ready: next attempt (zero: now); filing: lease expiry
}

// entry is a change to the index, in a delta.
type entry struct {
	live
	state State
	rec   *Record // the record as changed; never modified (clone it)
	// from is the record's state in the index before the batch, so apply knows which set
	// to take it out of ("": a new record, in none of them). Knowing it spares the index a
	// map from every live record to its state, which a new record would have to be added
	// to (measured: a third of apply's time in enqueue_64).
	from State
}

// left reports whether a delta entry says the record left the live set.
func (e *entry) left() bool { return e.state.Terminal() }

// recCacheSize bounds the decoded records kept in memory: enough for every record a
// practice is working on, few enough that a large backlog does not grow the heap (and the
// garbage collector's work) without bound.
const recCacheSize = 4096

type index struct {
	mu     sync.RWMutex
	states map[State]map[uint64]live // live records by state
	counts map[State]int             // every record, by state
	wipes  wipeHeap                  // terminal records not yet wiped

	// recs caches the committed, decoded metadata of recently changed live records, so a
	// transition does not decrypt and decode the record it changes. ring holds the ids in
	// insertion order for eviction.
	recs map[uint64]*Record
	ring []uint64
	next int
}

func newIndex() *index {
	x := &index{states: map[State]map[uint64]live{}, counts: map[State]int{},
		recs: map[uint64]*Record{}, ring: make([]uint64, recCacheSize)}
	for _, s := range States {
		if !s.Terminal() {
			x.states[s] = map[uint64]live{}
		}
	}
	return x
}

// wipeItem is a terminal record whose content is due to be wiped at due.
type wipeItem struct {
	due time.Time
	id  uint64
}

type wipeHeap []wipeItem

func (h wipeHeap) Len() int { return len(h) }
func (h wipeHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].id < h[j].id
	}
	return h[i].due.Before(h[j].due)
}
func (h wipeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *wipeHeap) Push(x any)   { *h = append(*h, x.(wipeItem)) }
func (h *wipeHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// delta is what one batch of operations changes in the index; the writer applies it after
// the batch commits, and drops it if the batch is retried.
type delta struct {
	set    map[uint64]*entry // an entry in a terminal state: the record left the live set
	counts map[State]int
	wipes  []wipeItem
}

func (d *delta) reset() {
	clear(d.set)
	clear(d.counts)
	d.wipes = d.wipes[:0]
}

// cached returns a live record as the batch d sees it, without decrypting it.
func (q *Queue) cached(d *delta, id uint64) (*Record, bool) {
	if d == nil {
		d = &delta{}
	}
	if e, ok := d.set[id]; ok {
		if e.left() {
			return nil, false
		}
		return e.rec, e.rec != nil
	}
	q.idx.mu.RLock()
	defer q.idx.mu.RUnlock()
	r, ok := q.idx.recs[id]
	return r, ok
}

// eachIn calls fn for every live record in state s as the batch d sees it (d nil: as
// committed).
func (q *Queue) eachIn(d *delta, s State, fn func(id uint64, e live)) {
	var set map[uint64]*entry // nil (nothing changed) when d is nil
	if d != nil {
		set = d.set
	}
	q.idx.mu.RLock()
	for id, e := range q.idx.states[s] {
		if _, changed := set[id]; !changed {
			fn(id, e)
		}
	}
	q.idx.mu.RUnlock()
	for id, e := range set {
		if e.state == s {
			fn(id, e.live)
		}
	}
}

// track records in d that r moved from state prev ("" for a new record). prev is the
// state the batch last saw r in: the index's, if the batch has not changed r before.
func (q *Queue) track(d *delta, r *Record, prev State) {
	if prev != r.State {
		if prev != "" {
			d.counts[prev]--
		}
		d.counts[r.State]++
	}
	from := prev
	if before, ok := d.set[r.ID]; ok {
		from = before.from // changed earlier in this batch
	}
	if r.State.Terminal() {
		d.set[r.ID] = &entry{state: r.State, from: from}
		if prev != r.State && r.WipedAt.IsZero() {
			d.wipes = append(d.wipes, wipeItem{due: r.UpdatedAt.Add(q.opts.Retention), id: r.ID})
		}
		return
	}
	e := &entry{state: r.State, live: live{author: r.Author}, rec: r, from: from}
	switch r.State {
	case Ready:
		e.due = q.deadline(r.NextAttemptAt, q.opts.Retry.Max)
	case Filing:
		if r.Lease != nil {
			e.due = q.deadline(r.Lease.Expires, 0)
		}
	}
	d.set[r.ID] = e
}

// deadline turns a wall-clock deadline a record holds into one on the queue's monotonic
// clock, as far from now as it is, but no further than limit (0: no limit). A jump of
// the wall clock after that (forward or back) then neither expires a lease early nor holds
// a back-off late; the limit bounds a back-off read at open after a backward jump.
func (q *Queue) deadline(wall time.Time, limit time.Duration) time.Time {
	if wall.IsZero() {
		return time.Time{}
	}
	rem := wall.Sub(q.now())
	if limit > 0 && rem > limit {
		rem = limit
	}
	return q.mono().Add(rem)
}

// apply makes a committed batch's changes visible.
func (x *index) apply(d *delta) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, e := range d.set {
		if e.from != "" && e.from != e.state {
			delete(x.states[e.from], id) // a terminal from (a wipe) has no set: no-op
		}
		if e.left() {
			delete(x.recs, id)
			continue
		}
		x.states[e.state][id] = e.live
		if e.rec != nil {
			x.cache(id, e.rec, e.from == "")
		}
	}
	for s, n := range d.counts {
		x.counts[s] += n
	}
	for _, w := range d.wipes {
		heap.Push(&x.wipes, w)
	}
}

// cache keeps r as the decoded record id, evicting the oldest cached record when full.
// fresh: id is a new record, not cached yet. Caller holds mu.
func (x *index) cache(id uint64, r *Record, fresh bool) {
	if !fresh {
		if _, cached := x.recs[id]; cached {
			x.recs[id] = r
			return
		}
	}
	if old := x.ring[x.next]; old != 0 {
		delete(x.recs, old)
	}
	x.ring[x.next] = id
	x.next = (x.next + 1) % len(x.ring)
	x.recs[id] = r
}

// idsIn returns the live records in state s, by one author if author is set, in id order.
func (x *index) idsIn(s State, author string) []uint64 {
	x.mu.RLock()
	var ids []uint64
	for id, e := range x.states[s] {
		if author == "" || e.author == author {
			ids = append(ids, id)
		}
	}
	x.mu.RUnlock()
	slices.Sort(ids)
	return ids
}

// nextDue returns the earliest lease expiry of a filing and the earliest wipe deadline.
func (x *index) nextDue() (lease, wipe time.Time) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, e := range x.states[Filing] {
		if lease.IsZero() || e.due.Before(lease) {
			lease = e.due
		}
	}
	if len(x.wipes) > 0 {
		wipe = x.wipes[0].due
	}
	return lease, wipe
}

// dueWipes removes and returns up to n wipe items due at or before now.
func (x *index) dueWipes(now time.Time, n int) []wipeItem {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []wipeItem
	for len(x.wipes) > 0 && len(out) < n && !x.wipes[0].due.After(now) {
		out = append(out, heap.Pop(&x.wipes).(wipeItem))
	}
	return out
}

// requeueWipes puts back wipe items a failed wipe did not complete.
func (x *index) requeueWipes(items []wipeItem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, w := range items {
		heap.Push(&x.wipes, w)
	}
}

// replace puts n's contents in place of x's (after the database was reopened).
func (x *index) replace(n *index) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.states, x.counts, x.wipes = n.states, n.counts, n.wipes
	x.recs, x.ring, x.next = n.recs, n.ring, n.next
}
