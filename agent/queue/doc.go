// Package queue is the agent's durable, encrypted store of writebacks, on bbolt.
//
// Every writeback the agent accepts lives here from the moment its source is told "stored"
// until retention wipes its patient content. A record moves through a fixed set of states
// (received → needs-confirmation → ready → filing → filed, with the side states
// needs-attention, rejected and cancelled); each move is checked against the table of legal
// transitions and committed in one transaction together with its audit entry.
//
// Durability and speed: writes are group-committed through a write-ahead log. Operations
// that arrive while a commit is running are run together by the caller at the front of the
// line (no timer) and handed as one group to a completer goroutine, which appends the
// group's changes to the log as one frame, syncs the log (one fdatasync covering every
// frame written before it) and only then answers the operations, in order. Before a sync it waits, up to 1 ms, for as many
// operations as the last sync answered: callers answered together come back together, and
// then share one sync instead of two. Because the operations of a group run one after
// another, each is encoded and sealed beforehand by its caller, on the version of the
// record the commit is expected to find (a claim: on the record it is expected to pick), and
// the commit redoes the work only if that changed. A background applier copies logged
// groups into bbolt, many per bbolt transaction, recording the last group applied in the
// same transaction; until then an in-memory overlay serves them to readers (by key; audit
// entries, read only in order, are read from bbolt once the overlay is applied), and after
// a crash they are applied again at open (wal.go, applier.go). The
// bbolt freelist is not synced (it is rebuilt on open), pages are 16 KiB, the file is mapped
// 1 GiB from the start outside Windows (no remapping as it grows), and it is
// compacted when the queue is idle and mostly free pages. The log writes into files whose
// blocks were written and synced beforehand (applied log files reused, else zero-filled),
// so that its syncs flush data and no metadata (wal_spare.go); the applier gathers groups (applyEarlyBytes or applyDelay) and writes
// only the last change of each key in a batch, in key order.
//
// Confidentiality: record metadata, document bodies and audit entries are sealed with
// AES-256-GCM bound to their key (see package seal); attachments are encrypted files of
// their own in the blobs folder, written and synced before the record that names them is
// committed. Plain text in the database is limited to record ids and job ids.
//
// Layout of the bbolt file (format 2; format 1 is read and marked 2: it lacked compressed
// bodies):
//
//	meta     "format" → 2; "keycheck" → a constant sealed with the data key
//	records  id(8) 0        → sealed Record     (metadata: state, reason, attempts, lease…)
//	         id(8) 1        → sealed body       (the document; deleted by retention)
//	         id(8) 2 seq(8) → sealed AuditEntry (append-only trail of the record)
//	jobs     jobId → id(8)                      (idempotency on the source's job id)
//
// Before sealing, records, bodies and audit entries are in a compact binary encoding whose
// first byte names it (codec.go); values written as JSON by earlier builds are still read.
// A body that shrinks by an eighth or more is compressed (S2), alone, before it is sealed.
//
// The write-ahead log (DATA/wal) holds the same keys and sealed values until they are
// applied. Every sealed value's associated data is "wbagent/records" and its key. A record's values
// share its id as a key prefix, so creating a record or moving it on dirties one or two leaf
// pages of one bucket (and, for a new record, one of jobs). Which records are in which
// state, the counters and the retention schedule are derived from the records, kept in
// memory and rebuilt at open (index.go).
package queue
