package queue

import (
	"encoding/binary"
	"fmt"
)

// Keys of the records bucket. A record's metadata, body and audit entries share its id as
// a prefix, so they sit side by side in the B+tree and a new record or a transition dirties
// one or two leaf pages. Serialised: never change a kind's value.
const (
	kindRecord byte = 0 // id(8) 0        → sealed Record
	kindBody   byte = 1 // id(8) 1        → sealed body (deleted by retention)
	kindAudit  byte = 2 // id(8) 2 seq(8) → sealed AuditEntry
)

// recordsFill is the fill percent of the records bucket: keys are appended in id order, so
// pages can be filled almost full instead of split in half.
const recordsFill = 0.9

func idKey(id uint64) []byte { return u64(id) }

func recordKey(id uint64, kind byte) []byte {
	k := make([]byte, 9)
	binary.BigEndian.PutUint64(k, id)
	k[8] = kind
	return k
}

// auditKeyLen is the length of an audit entry's key.
const auditKeyLen = 17

func auditKey(id, seq uint64) []byte {
	k := make([]byte, auditKeyLen)
	binary.BigEndian.PutUint64(k, id)
	k[8] = kindAudit
	binary.BigEndian.PutUint64(k[9:], seq)
	return k
}

// parseKey splits a records-bucket key.
func parseKey(k []byte) (id uint64, kind byte, seq uint64, ok bool) {
	switch len(k) {
	case 9:
		return binary.BigEndian.Uint64(k), k[8], 0, true
	case 17:
		return binary.BigEndian.Uint64(k), k[8], binary.BigEndian.Uint64(k[9:]), true
	}
	return 0, 0, 0, false
}

// ad is the associated data binding a sealed value to its key.
func ad(key []byte) []byte {
	b := make([]byte, 0, len(adRecords)+len(key)) // one allocation, where []byte(adRecords) made two
	return append(append(b, adRecords...), key...)
}

// openRecord decrypts and decodes a sealed Record.
func (q *Queue) openRecord(id uint64, sealed []byte, buf []byte) (*Record, []byte, error) {
	pt, err := q.sealer.Open(buf[:0], sealed, ad(recordKey(id, kindRecord)))
	if err != nil {
		return nil, buf, fmt.Errorf("record %d: %w", id, err)
	}
	r, err := decodeRecord(pt)
	if err != nil {
		return nil, pt, fmt.Errorf("record %d: %w", id, err)
	}
	return r, pt, nil
}

// getRecord returns a copy of a record an operation may change: from the index's cache for
// a live record, otherwise read through t and opened.
func (q *Queue) getRecord(t *wtx, d *delta, id uint64) (*Record, error) {
	if r, ok := q.cached(d, id); ok {
		return r.clone(), nil
	}
	v := t.get(bRecords, recordKey(id, kindRecord))
	if v == nil {
		return nil, fmt.Errorf("record %d: %w", id, ErrNotFound)
	}
	r, _, err := q.openRecord(id, v, nil)
	return r, err
}

// readRecord returns a copy of a record for a reader outside any operation.
func (q *Queue) readRecord(id uint64) (*Record, error) {
	if r, ok := q.cached(nil, id); ok {
		return r.clone(), nil
	}
	v, err := q.read(bRecords, recordKey(id, kindRecord))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("record %d: %w", id, ErrNotFound)
	}
	r, _, err := q.openRecord(id, v, nil)
	return r, err
}

// sealRecord encodes and seals a record for its key.
func (q *Queue) sealRecord(r *Record) ([]byte, error) {
	return q.sealRecordAt(recordKey(r.ID, kindRecord), r)
}

// sealRecordAt is sealRecord with r's key made already.
func (q *Queue) sealRecordAt(key []byte, r *Record) ([]byte, error) {
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendRecord((*buf)[:0], r)
	return q.sealer.Seal(nil, *buf, ad(key)), nil
}

// putRecord writes a record and notes in d how it moved from prev ("" for a new record).
func (q *Queue) putRecord(t *wtx, d *delta, r *Record, prev State) error {
	sealed, err := q.sealRecord(r)
	if err != nil {
		return err
	}
	return q.putSealedRecord(t, d, r, prev, sealed)
}

func (q *Queue) putSealedRecord(t *wtx, d *delta, r *Record, prev State, sealed []byte) error {
	return q.putSealedRecordAt(t, d, recordKey(r.ID, kindRecord), r, prev, sealed)
}

// putSealedRecordAt is putSealedRecord with r's key made already.
func (q *Queue) putSealedRecordAt(t *wtx, d *delta, key []byte, r *Record, prev State, sealed []byte) error {
	if err := t.put(bRecords, key, sealed); err != nil {
		return fmt.Errorf("record %d: put: %w", r.ID, err)
	}
	q.track(d, r, prev)
	return nil
}
