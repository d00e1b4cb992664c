package queue

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// The queue's stored values (before sealing) are in a compact binary encoding: the first
// byte names the encoding, then the fields follow in a fixed order as varints and
// length-prefixed strings. It costs a fraction of encoding/json on every transition, and
// every transition encodes a record and an audit entry. Values written as JSON by earlier
// builds (first byte '{') are still read.
//
// Serialised: never change a value, and never change the field order of an encoding;
// add a new encoding instead.
const (
	encRecordV1 byte = 0x01 // a Record
	encAuditV1  byte = 0x02 // an AuditEntry
	encBodyV1   byte = 0x03 // a body: digest, then the document (written by builds before 2026-11-21; read)
	encBodyV2   byte = 0x04 // a body: its attachments' hashes, then the document
	encBodyS2   byte = 0x05 // a body in encBodyV2, compressed as one S2 block (see compressBody)

	encLegacyJSON byte = '{'
)

// errCorrupt is returned for a stored value that does not decode. Sealed values are
// authenticated first, so this means a bug or an encoding from a newer build, not tampering.
var errCorrupt = errors.New("malformed stored value")

// encoder appends fields to a buffer.
type encoder struct{ b []byte }

func (e *encoder) byte(v byte)    { e.b = append(e.b, v) }
func (e *encoder) uint(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) str(s string)   { e.uint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(p []byte) { e.uint(uint64(len(p))); e.b = append(e.b, p...) }

func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// time keeps the instant and the zone offset (as JSON does): 0 for the zero time, else 1,
// Unix nanoseconds and the offset in seconds.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.byte(0)
		return
	}
	_, off := t.Zone()
	e.byte(1)
	e.int(t.UnixNano())
	e.int(int64(off))
}

// decoder reads fields in the order they were appended. The first error sticks: later
// reads return zero values, and err says what went wrong.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// len reads a length that must fit in what is left (each element takes at least a byte).
func (d *decoder) len() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) raw() []byte {
	n := d.len()
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	v := d.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

func (d *decoder) time() time.Time {
	switch d.byte() {
	case 0:
		return time.Time{}
	case 1:
	default:
		d.fail()
		return time.Time{}
	}
	ns, off := d.int(), d.int()
	t := time.Unix(0, ns)
	if off == 0 {
		return t.UTC()
	}
	if off < -24*3600 || off > 24*3600 {
		d.fail()
		return time.Time{}
	}
	return t.In(time.FixedZone("", int(off)))
}

// state reads a State, as one of the constants when it is one (no allocation).
func (d *decoder) state() State {
	b := d.raw()
	for _, s := range States {
		if string(b) == string(s) {
			return s
		}
	}
	return State(b)
}

// done reports the decoding's error, or errCorrupt if bytes are left over.
func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return fmt.Errorf("decode %s: %w", what, d.err)
	}
	return nil
}

// appendRecord appends r's encoding to b.
func appendRecord(b []byte, r *Record) []byte {
	e := encoder{b: b}
	e.byte(encRecordV1)
	e.uint(r.ID)
	e.str(r.JobID)
	e.str(string(r.State))
	e.str(r.Author)
	e.bool(r.Reason != nil)
	if r.Reason != nil {
		e.str(r.Reason.Code)
		e.str(r.Reason.Text)
		e.str(r.Reason.Fix)
	}
	e.bool(r.ConfirmedBy != nil)
	if r.ConfirmedBy != nil {
		e.actor(*r.ConfirmedBy)
	}
	e.time(r.ConfirmedAt)
	e.bool(r.PfsVisible)
	e.uint(uint64(len(r.Attempts)))
	for _, a := range r.Attempts {
		e.time(a.At)
		e.str(a.Outcome)
		e.str(a.Code)
		e.str(a.Detail)
	}
	e.time(r.NextAttemptAt)
	e.bool(r.Lease != nil)
	if r.Lease != nil {
		e.str(r.Lease.Owner)
		e.uint(r.Lease.Token)
		e.time(r.Lease.Expires)
	}
	e.bool(r.OutcomeUnknown)
	e.str(r.ConsultationGUID)
	e.str(r.ConsultationID)
	e.time(r.CreatedAt)
	e.time(r.UpdatedAt)
	e.time(r.WipedAt)
	e.uint(uint64(len(r.Attachments)))
	for _, a := range r.Attachments {
		e.int(int64(a.Index))
		e.str(a.FileName)
		e.str(a.MediaType)
		e.int(a.Size)
		e.bytes(a.SHA256)
	}
	e.str(r.Reported)
	e.uint(r.Version)
	return e.b
}

func (e *encoder) actor(a Actor) {
	e.str(a.OSUser)
	e.str(a.ClinicalUser)
	e.str(a.Component)
}

func (d *decoder) actor() Actor {
	return Actor{OSUser: d.str(), ClinicalUser: d.str(), Component: d.str()}
}

// decodeRecord decodes a stored record.
func decodeRecord(b []byte) (*Record, error) {
	var r Record
	if len(b) > 0 && b[0] == encLegacyJSON {
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		return &r, nil
	}
	d := decoder{b: b}
	if d.byte() != encRecordV1 {
		return nil, fmt.Errorf("decode record: unknown encoding: %w", errCorrupt)
	}
	r.ID = d.uint()
	r.JobID = d.str()
	r.State = d.state()
	r.Author = d.str()
	if d.bool() {
		r.Reason = &Reason{Code: d.str(), Text: d.str(), Fix: d.str()}
	}
	if d.bool() {
		by := d.actor()
		r.ConfirmedBy = &by
	}
	r.ConfirmedAt = d.time()
	r.PfsVisible = d.bool()
	if n := d.len(); n > 0 {
		r.Attempts = make([]Attempt, n)
		for i := range r.Attempts {
			r.Attempts[i] = Attempt{At: d.time(), Outcome: d.str(), Code: d.str(), Detail: d.str()}
		}
	}
	r.NextAttemptAt = d.time()
	if d.bool() {
		r.Lease = &Lease{Owner: d.str(), Token: d.uint(), Expires: d.time()}
	}
	r.OutcomeUnknown = d.bool()
	r.ConsultationGUID = d.str()
	r.ConsultationID = d.str()
	r.CreatedAt = d.time()
	r.UpdatedAt = d.time()
	r.WipedAt = d.time()
	if n := d.len(); n > 0 {
		r.Attachments = make([]AttachmentRef, n)
		for i := range r.Attachments {
			r.Attachments[i] = AttachmentRef{Index: d.intValue(), FileName: d.str(), MediaType: d.str(), Size: d.int(), SHA256: d.bytes()}
		}
	}
	r.Reported = d.str()
	r.Version = d.uint()
	if err := d.done("record"); err != nil {
		return nil, err
	}
	return &r, nil
}

// intValue reads an int that must fit Go's int.
func (d *decoder) intValue() int {
	v := d.int()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int(v)
}

// appendAudit appends e's encoding to b.
func appendAudit(b []byte, a *AuditEntry) []byte {
	e := encoder{b: b}
	e.byte(encAuditV1)
	e.uint(a.Seq)
	e.time(a.At)
	e.uint(a.RecordID)
	e.str(a.JobID)
	e.str(a.Action)
	e.str(string(a.From))
	e.str(string(a.To))
	e.actor(a.Actor)
	e.str(a.Detail)
	return e.b
}

// decodeAudit decodes a stored audit entry.
func decodeAudit(b []byte) (AuditEntry, error) {
	var a AuditEntry
	if len(b) > 0 && b[0] == encLegacyJSON {
		if err := json.Unmarshal(b, &a); err != nil {
			return AuditEntry{}, fmt.Errorf("decode audit entry: %w", err)
		}
		return a, nil
	}
	d := decoder{b: b}
	if d.byte() != encAuditV1 {
		return AuditEntry{}, fmt.Errorf("decode audit entry: unknown encoding: %w", errCorrupt)
	}
	a.Seq = d.uint()
	a.At = d.time()
	a.RecordID = d.uint()
	a.JobID = d.str()
	a.Action = d.str()
	a.From = d.state()
	a.To = d.state()
	a.Actor = d.actor()
	a.Detail = d.str()
	if err := d.done("audit entry"); err != nil {
		return AuditEntry{}, err
	}
	return a, nil
}

// document appends the encoding of a writeback document (without an encoding byte:
// it is part of a body).
func (e *encoder) document(w *writeback.Writeback) {
	e.str(w.Schema)
	e.str(w.JobID)
	e.str(w.PracticeODS)
	e.str(w.Author.ClinicalUserID)
	e.str(w.Author.DisplayName)
	p := &w.Patient
	e.str(p.NHSNumber)
	e.str(p.FamilyName)
	e.str(p.GivenNames)
	e.str(p.DateOfBirth)
	e.str(p.Sex)
	e.bool(p.IdentityVerified)
	e.str(w.Summary)
	e.uint(uint64(len(w.Codes)))
	for _, c := range w.Codes {
		e.str(c.System)
		e.str(c.Code)
		e.str(c.Display)
		e.bool(c.Value != nil)
		if c.Value != nil {
			e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(*c.Value))
		}
		e.str(c.Unit)
	}
	e.uint(uint64(len(w.Attachments)))
	for _, a := range w.Attachments {
		e.str(a.FileName)
		e.str(a.MediaType)
		e.str(a.DataBase64)
	}
	e.time(w.CreatedAt)
}

func (d *decoder) document() *writeback.Writeback {
	w := &writeback.Writeback{
		Schema: d.str(), JobID: d.str(), PracticeODS: d.str(),
		Author: writeback.Author{ClinicalUserID: d.str(), DisplayName: d.str()},
		Patient: writeback.Patient{NHSNumber: d.str(), FamilyName: d.str(), GivenNames: d.str(),
			DateOfBirth: d.str(), Sex: d.str(), IdentityVerified: d.bool()},
		Summary: d.str(),
	}
	if n := d.len(); n > 0 {
		w.Codes = make([]writeback.Code, n)
		for i := range w.Codes {
			c := writeback.Code{System: d.str(), Code: d.str(), Display: d.str()}
			if d.bool() {
				if len(d.b) < 8 {
					d.fail()
				} else {
					v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
					c.Value = &v
					d.b = d.b[8:]
				}
			}
			c.Unit = d.str()
			w.Codes[i] = c
		}
	}
	if n := d.len(); n > 0 {
		w.Attachments = make([]writeback.Attachment, n)
		for i := range w.Attachments {
			w.Attachments[i] = writeback.Attachment{FileName: d.str(), MediaType: d.str(), DataBase64: d.str()}
		}
	}
	w.CreatedAt = d.time()
	return w
}

// appendBody appends a body's encoding to b: the SHA-256 of each attachment (set on doc's
// attachments), then the document (without its attachments' bytes).
//
// Two bodies are the same content exactly when their encodings are equal, which is how a
// job sent again is told from a changed one. The previous encoding (encBodyV1) stored a
// SHA-256 of this content instead, worked out on every enqueue for a comparison needed only
// when a job comes again; without it, and with the plaintext in a pooled buffer, preparing
// a record with a 2 KB summary takes 40 % less time and memory (BenchmarkPrepare).
func appendBody(b []byte, doc *writeback.Writeback) []byte {
	e := encoder{b: b}
	e.byte(encBodyV2)
	e.uint(uint64(len(doc.Attachments)))
	for _, a := range doc.Attachments {
		e.bytes(a.SHA256)
	}
	e.document(doc)
	return e.b
}

// A body is compressed before it is sealed when that makes it at least an eighth smaller:
// a document is JSON-like text (the example writeback by a quarter, a long summary by
// half), and every byte saved is a byte less to seal, to log and to write into bbolt.
// Measured in enqueue_64: 7.5 -> 4.8 KB written to the disk per record, and +3 to +15 %
// records a second in interleaved pairs, with S2 (github.com/klauspost/compress/s2)
// costing ~1.5 us per 2.7 KB.
//
// Each body is compressed alone, so its length depends on its own content only: no other
// record's text shares its block (compression ahead of encryption leaks through lengths
// where text an attacker chooses and a secret share one block, as in CRIME).
const (
	minCompressBody = 256      // shorter bodies are sealed as they are: little to gain
	maxBodyPlain    = 64 << 20 // a compressed body claiming more is corrupt
)

// compressBody returns the plaintext to seal for plain (an encBodyV2 body): plain itself,
// or plain compressed as encBodyS2 into *buf (grown as needed; the caller clears it).
func compressBody(buf *[]byte, plain []byte) []byte {
	if len(plain) < minCompressBody {
		return plain
	}
	n := s2.MaxEncodedLen(len(plain))
	if n < 0 {
		return plain
	}
	*buf = slices.Grow((*buf)[:0], 1+n)[:1+n]
	(*buf)[0] = encBodyS2
	c := s2.Encode((*buf)[1:], plain)
	if 1+len(c) > len(plain)-len(plain)/8 {
		return plain
	}
	return (*buf)[:1+len(c)]
}

// plainBody returns a stored body's uncompressed encoding: b itself, or for encBodyS2, b
// decompressed into *buf (grown as needed; the caller clears it).
func plainBody(buf *[]byte, b []byte) ([]byte, error) {
	if len(b) == 0 || b[0] != encBodyS2 {
		return b, nil
	}
	n, err := s2.DecodedLen(b[1:])
	if err != nil || n == 0 || n > maxBodyPlain {
		return nil, fmt.Errorf("decode body: compressed length: %w", errCorrupt)
	}
	*buf = slices.Grow((*buf)[:0], n)[:n]
	out, err := s2.Decode(*buf, b[1:])
	if err != nil || len(out) != n || out[0] == encBodyS2 {
		return nil, fmt.Errorf("decode body: decompress: %w", errCorrupt)
	}
	return out, nil
}

// decodeBody decodes a stored body in any encoding this or an earlier build wrote.
func decodeBody(b []byte) (body, error) {
	if len(b) > 0 && b[0] == encBodyS2 {
		buf := getBuf()
		defer putBuf(buf) // cleared: the plaintext names the patient
		plain, err := plainBody(buf, b)
		if err != nil {
			return body{}, err
		}
		return decodeBody(plain) // not compressed again: plainBody refuses that
	}
	if len(b) > 0 && b[0] == encLegacyJSON {
		var out body
		if err := json.Unmarshal(b, &out); err != nil {
			return body{}, fmt.Errorf("decode body: %w", err)
		}
		return out, nil
	}
	d := decoder{b: b}
	var out body
	switch d.byte() {
	case encBodyV1:
		out.Digest = d.bytes()
	case encBodyV2:
		n := d.uint()
		for i := uint64(0); i < n && d.err == nil; i++ {
			d.bytes() // the attachments' hashes: the record's attachment refs carry them too
		}
	default:
		return body{}, fmt.Errorf("decode body: unknown encoding: %w", errCorrupt)
	}
	out.Doc = d.document()
	if err := d.done("body"); err != nil {
		return body{}, err
	}
	return out, nil
}

// v1Digest is the digest a body in encoding encBodyV1 stored for doc's content: the
// SHA-256 of the document's encoding, then of each attachment's SHA-256.
func v1Digest(doc *writeback.Writeback) []byte {
	e := encoder{}
	e.document(doc)
	h := sha256.New()
	h.Write(e.b)
	clear(e.b) // the plaintext names the patient
	for _, a := range doc.Attachments {
		h.Write(a.SHA256)
	}
	return h.Sum(nil)
}

// bufs holds plaintext buffers: a value is encoded into one, sealed into a new slice, and
// the buffer returned.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	clear(*b) // plaintext may name the patient: do not leave it lying in the pool or the heap
	if cap(*b) > 64<<10 {
		return // do not keep a buffer grown by an unusually large value
	}
	bufs.Put(b)
}
