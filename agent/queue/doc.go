// Package queue is the agent's durable, encrypted store of writebacks, on bbolt.
//
// Every writeback the agent accepts lives here from the moment its source is told "stored"
// until retention wipes its patient content. A record moves through a fixed set of states
// (received → needs-confirmation → ready → filing → filed, with the side states
// needs-attention, rejected and cancelled); each move is checked against the table of legal
// transitions and committed in one transaction together with its audit entry.
//
// Durability: every change is one bbolt transaction, and a caller returns only after it
// committed (bbolt syncs the changed pages, then the meta page that makes them current).
// Concurrent callers share transactions: the caller at the front of the line runs every
// operation waiting (up to maxBatch) in one Update, commits, answers them and hands the front
// to the next caller. An operation that fails is taken out and the group run again without
// it; it alone gets its error. Callers encode and seal their changes before they join the
// line, against the record version the commit is expected to find, and the commit redoes
// that work only if the version changed. Attachments are sealed files of their own in the
// blobs folder, written, synced and renamed, and the folder synced, before the record that
// names them commits; files no record names are removed at open. The data folder is synced
// when queue.db is created. The queue keeps written zeros after bbolt's last page
// (zeroahead.go), so commits overwrite existing blocks.
//
// Failure: a commit that fails (a write, a sync, a full disk) is rolled back by bbolt and
// its callers get an error wrapping ErrDiskFull or ErrWriteFailed. The queue then closes and
// reopens its file and rebuilds its in-memory index from it, raises a condition (Conditions,
// Options.OnConditions) and tries a write of its own every ProbeEvery until one works, when
// the condition clears (health.go). The proof is in powercut_test.go: power cuts on a FUSE
// file system that loses whatever was not synced (package internal/powercut).
//
// A data folder written by the builds that had a write-ahead log in front of bbolt
// (DATA/wal) is read once at open: the logged changes bbolt lacks are applied in one
// transaction and the folder removed (oldwal.go).
//
// Confidentiality: record metadata, document bodies and audit entries are sealed with
// AES-256-GCM bound to their key (see package seal); attachments are encrypted files of
// their own. Plain text in the database is limited to record ids and job ids.
//
// Layout of the bbolt file (format 2; format 1 is read and marked 2: it lacked compressed
// bodies):
//
//	meta     "format" → 2; "keycheck" → a constant sealed with the data key;
//	         "walApplied" → the last old-log group applied; "probe" → when a probe last wrote
//	records  id(8) 0        → sealed Record     (metadata: state, reason, attempts, lease…)
//	         id(8) 1        → sealed body       (the document; deleted by retention)
//	         id(8) 2 seq(8) → sealed AuditEntry (append-only trail of the record)
//	jobs     jobId → id(8)                      (idempotency on the source's job id)
//
// Before sealing, records, bodies and audit entries are in a compact binary encoding whose
// first byte names it (codec.go); values written as JSON by earlier builds are still read.
// A body that shrinks by an eighth or more is compressed (S2), alone, before it is sealed.
// Every sealed value's associated data is "wbagent/records" and its key. A record's values
// share its id as a key prefix, so creating a record or moving it on dirties one or two leaf
// pages of one bucket (and, for a new record, one of jobs). Which records are in which
// state, the counters and the retention schedule are derived from the records, kept in
// memory and rebuilt at open (index.go); the leases and back-off held there are timed on
// the monotonic clock, so a jump of the wall clock neither expires nor holds them.
package queue
