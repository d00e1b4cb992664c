package queue

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Get returns a record's metadata.
func (q *Queue) Get(id uint64) (*Record, error) {
	r, err := q.readRecord(id)
	if err != nil {
		return nil, fmt.Errorf("queue: get: %w", err)
	}
	return r, nil
}

// LookupJob returns the id of the record for a source job id.
func (q *Queue) LookupJob(jobID string) (uint64, error) {
	v, err := q.read(bJobs, []byte(jobID))
	if err == nil && v == nil {
		err = ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("queue: lookup job: %w", err)
	}
	return bytesToID(v), nil
}

// Document returns a record's writeback document (without attachment bytes: read those
// with OpenAttachment). It returns ErrWiped once retention removed it.
func (q *Queue) Document(id uint64) (*writeback.Writeback, error) {
	doc, err := q.document(id)
	if err != nil {
		return nil, fmt.Errorf("queue: document %d: %w", id, err)
	}
	return doc, nil
}

func (q *Queue) document(id uint64) (*writeback.Writeback, error) {
	k := recordKey(id, kindBody)
	v, err := q.read(bRecords, k)
	if err != nil {
		return nil, err
	}
	if v == nil {
		if r, err := q.read(bRecords, recordKey(id, kindRecord)); err == nil && r != nil {
			return nil, ErrWiped
		}
		return nil, ErrNotFound
	}
	pt, err := q.sealer.Open(nil, v, ad(k))
	if err != nil {
		return nil, err
	}
	defer clear(pt) // the plaintext names the patient; the document holds copies
	b, err := decodeBody(pt)
	if err != nil {
		return nil, err
	}
	return b.Doc, nil
}

// OpenAttachment returns a reader of attachment index of record id, decrypted as it is
// read. The reader fails with seal.ErrTampered (or a hash mismatch) if the file was altered;
// only content read to io.EOF is authentic.
func (q *Queue) OpenAttachment(id uint64, index int) (io.ReadCloser, error) {
	r, err := q.Get(id)
	if err != nil {
		return nil, err
	}
	if !r.WipedAt.IsZero() {
		return nil, fmt.Errorf("queue: attachment %d of record %d: %w", index, id, ErrWiped)
	}
	if index < 0 || index >= len(r.Attachments) {
		return nil, fmt.Errorf("queue: attachment %d of record %d: %w", index, id, ErrNotFound)
	}
	ref := r.Attachments[index]
	f, err := os.Open(filepath.Join(q.blobs, blobName(id, index)))
	if err != nil {
		return nil, fmt.Errorf("queue: attachment %d of record %d: %w", index, id, err)
	}
	dr, err := q.sealer.DecryptReader(f, blobAD(id, index))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("queue: attachment %d of record %d: %w", index, id, err)
	}
	return &verifyingReader{r: dr, f: f, h: sha256.New(), want: ref.SHA256, size: ref.Size}, nil
}

// verifyingReader checks the decrypted content's size and SHA-256 at the end.
type verifyingReader struct {
	r    io.Reader
	f    *os.File
	h    hash.Hash
	want []byte
	size int64
	n    int64
}

var errAttachmentMismatch = errors.New("attachment content does not match its record (size or SHA-256)")

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF && (v.n != v.size || !bytes.Equal(v.h.Sum(nil), v.want)) {
		return n, errAttachmentMismatch
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.f.Close() }

// Filter selects records for List and Each.
type Filter struct {
	States []State // none: every state
	Author string  // "": every author
	Limit  int     // 0: no limit
}

// Each calls fn for every record matching f, in id order, opening one record at a time (a
// large queue is never held in memory). Records in live states come straight from the
// index; asking for a terminal state walks every record. fn returning an error stops the
// walk with that error. fn must not call the queue's write methods.
func (q *Queue) Each(f Filter, fn func(*Record) error) error {
	states := f.States
	if len(states) == 0 {
		states = States
	}
	want := map[State]bool{}
	liveOnly := true
	for _, s := range states {
		if !s.Valid() {
			return fmt.Errorf("queue: list: unknown state %q", s)
		}
		want[s] = true
		liveOnly = liveOnly && !s.Terminal()
	}
	n := 0
	visit := func(r *Record) (stop bool, err error) {
		if !want[r.State] || (f.Author != "" && r.Author != f.Author) {
			return false, nil
		}
		if err := fn(r); err != nil {
			return true, err
		}
		n++
		return f.Limit > 0 && n >= f.Limit, nil
	}
	if liveOnly {
		var ids []uint64
		for _, s := range states {
			ids = append(ids, q.idx.idsIn(s, f.Author)...)
		}
		slices.Sort(ids)
		for _, id := range ids {
			r, err := q.readRecord(id)
			if err != nil {
				return fmt.Errorf("queue: list: %w", err)
			}
			if stop, err := visit(r); stop || err != nil {
				return err
			}
		}
		return nil
	}
	return q.view(func(tx *bolt.Tx) error {
		var buf []byte
		c := tx.Bucket(bucketRecords).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			id, kind, _, ok := parseKey(k)
			if !ok || kind != kindRecord {
				continue
			}
			var r *Record
			var err error
			if r, buf, err = q.openRecord(id, v, buf); err != nil {
				return fmt.Errorf("queue: list: %w", err)
			}
			if stop, err := visit(r); stop || err != nil {
				return err
			}
		}
		return nil
	})
}

// List returns the records matching f.
func (q *Queue) List(f Filter) ([]*Record, error) {
	var out []*Record
	err := q.Each(f, func(r *Record) error { out = append(out, r); return nil })
	return out, err
}

// AuthorCounts returns, for a live state, how many records each author has in it.
func (q *Queue) AuthorCounts(s State) map[string]int {
	q.idx.mu.RLock()
	defer q.idx.mu.RUnlock()
	out := map[string]int{}
	for _, e := range q.idx.states[s] {
		out[e.author]++
	}
	return out
}

// Counts returns how many records are in each state.
func (q *Queue) Counts() (map[State]int, error) {
	if q.closed.Load() {
		return nil, fmt.Errorf("queue: counts: %w", ErrClosed)
	}
	q.idx.mu.RLock()
	defer q.idx.mu.RUnlock()
	counts := make(map[State]int, len(States))
	for _, s := range States {
		counts[s] = q.idx.counts[s]
	}
	return counts, nil
}
