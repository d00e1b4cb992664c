// Package queue is the agent's durable, encrypted store of writebacks, on bbolt.
//
// Every writeback the agent accepts lives here from the moment its source is told "stored"
// until retention wipes its patient content. A record moves through a fixed set of states
// (received → needs-confirmation → ready → filing → filed, with the side states
// needs-attention, rejected and cancelled); each move is checked against the table of legal
// transitions and committed in one transaction together with its audit entry.
//
// Durability and speed: all writes go through one group-commit writer. Operations that
// arrive while a commit is running are applied together in the next transaction, so one
// producer pays one commit per operation and many producers share commits; there is no
// timer. The freelist is not synced (it is rebuilt on open) so a large drained file does not
// make every commit rewrite it, and the file is compacted when the queue is idle and mostly
// free pages.
//
// Confidentiality: record metadata, document bodies and audit entries are sealed with
// AES-256-GCM bound to their key (see package seal); attachments are encrypted files of
// their own in the blobs folder, written and synced before the record that names them is
// committed. Plain text in the database is limited to ids, job ids, state index entries,
// clinician user ids and counters.
//
// Layout of the bbolt file (format 1):
//
//	meta     "format" → 1; "keycheck" → sealed constant; "count/<state>" → uint64 records in that state
//	records  id(8) → sealed Record           (associated data "wbagent/record" + id)
//	bodies   id(8) → sealed body             (associated data "wbagent/body" + id)
//	jobs     jobId → id(8)                   (idempotency on the source's job id)
//	index    state(1) id(8) → due(8) author  (records by state; due is the retry or lease time)
//	wipe     due(8) id(8) → ∅                (terminal records by retention deadline)
//	audit    seq(8) → sealed AuditEntry      (associated data "wbagent/audit" + seq)
package queue
