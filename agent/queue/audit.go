package queue

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Audit actions. Serialised: never change a value.
const (
	ActionEnqueued       = "enqueued"
	ActionChecked        = "checked"
	ActionNeedsAttention = "needs-attention"
	ActionConfirmed      = "confirmed"
	ActionRejected       = "rejected"
	ActionCancelled      = "cancelled"
	ActionRetried        = "retried"
	ActionClaimed        = "claimed"
	ActionFiled          = "filed"
	ActionFilingFailed   = "filing-failed"
	ActionLeaseRecovered = "lease-recovered"
	ActionWiped          = "wiped"
)

// AuditEntry records who did what to which record, when. The trail is append-only: entries
// are never changed or removed. Detail holds codes and counts, never patient data.
type AuditEntry struct {
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	RecordID uint64    `json:"recordId"`
	JobID    string    `json:"jobId"`
	Action   string    `json:"action"`
	From     State     `json:"from,omitempty"`
	To       State     `json:"to,omitempty"`
	Actor    Actor     `json:"actor"`
	Detail   string    `json:"detail,omitempty"`
}

// appendAudit adds e to the trail in tx.
func (q *Queue) appendAudit(tx *bolt.Tx, e AuditEntry) error {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("audit: next sequence: %w", err)
	}
	e.Seq = seq
	pt, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	k := u64(seq)
	return b.Put(k, q.sealer.Seal(nil, pt, adFor(adAudit, k)))
}

// Audit calls fn for each audit entry in order, starting after sequence number after, for
// record id (0 for every record). fn returning an error stops the walk with that error.
func (q *Queue) Audit(after, id uint64, fn func(AuditEntry) error) error {
	return q.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil; k, v = c.Next() {
			pt, err := q.sealer.Open(nil, v, adFor(adAudit, k))
			if err != nil {
				return fmt.Errorf("queue: audit %d: %w", binary.BigEndian.Uint64(k), err)
			}
			var e AuditEntry
			if err := json.Unmarshal(pt, &e); err != nil {
				return fmt.Errorf("queue: audit %d: decode: %w", binary.BigEndian.Uint64(k), err)
			}
			if id != 0 && e.RecordID != id {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}
