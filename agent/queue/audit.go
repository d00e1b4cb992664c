package queue

import (
	"cmp"
	"fmt"
	"slices"
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
	ActionReported       = "outcome-reported"
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

// sealAudit numbers e and seals it under its key. Numbers come from a counter, so entries
// can be sealed before the transaction that stores them; a number whose transaction did not
// commit is simply never used.
func (q *Queue) sealAudit(e *AuditEntry) (key, value []byte, err error) {
	e.Seq = q.auditSeq.Add(1)
	buf := getBuf()
	defer putBuf(buf)
	*buf = appendAudit((*buf)[:0], e)
	key = auditKey(e.RecordID, e.Seq)
	return key, q.sealer.Seal(nil, *buf, ad(key)), nil
}

// appendAudit adds e to the trail through t.
func (q *Queue) appendAudit(t *wtx, e AuditEntry) error {
	k, v, err := q.sealAudit(&e)
	if err != nil {
		return err
	}
	return t.put(bRecords, k, v)
}

// Audit calls fn, in order, for each audit entry numbered after after: of record id, or of
// every record when id is 0. fn returning an error stops the walk with that error.
func (q *Queue) Audit(after, id uint64, fn func(AuditEntry) error) error {
	var entries []AuditEntry
	err := q.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		var k, v []byte
		if id != 0 {
			k, v = c.Seek(recordKey(id, kindAudit))
		} else {
			k, v = c.First()
		}
		for ; k != nil; k, v = c.Next() {
			kid, kind, seq, ok := parseKey(k)
			if id != 0 && (kid != id || kind != kindAudit) {
				break
			}
			if !ok || kind != kindAudit || seq <= after {
				continue
			}
			pt, err := q.sealer.Open(nil, v, ad(k))
			if err != nil {
				return fmt.Errorf("queue: audit %d: %w", seq, err)
			}
			e, err := decodeAudit(pt)
			if err != nil {
				return fmt.Errorf("queue: audit %d: %w", seq, err)
			}
			entries = append(entries, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b AuditEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, e := range entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
