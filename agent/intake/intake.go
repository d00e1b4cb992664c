// Package intake is the one way a writeback document from outside the platform link enters
// the queue: `wbagent enqueue` (the local API's POST /queue) and the drop folder both go
// through Submit, so both validate exactly alike (writeback.Decode, docs/writeback.schema.json)
// and both deduplicate on the job id.
package intake

import (
	"context"
	"fmt"
	"io"

	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// MaxDocumentBytes bounds a writeback document as sent: its attachments' base64 at the
// largest total the schema allows, and the metadata.
const MaxDocumentBytes = writeback.MaxTotalAttachBytes/3*4 + writeback.MaxMetadataBytes + 64<<10

// Submit decodes and validates one writeback/v1 document from r, spooling its attachments
// into a queue stage, and enqueues it for by. It returns once the record is durable.
//
// An invalid document's error is, or wraps, a *writeback.ValidationError (safe to log and
// to show: it names fields and rules, never values); nothing is stored then. Enqueueing a
// job id already queued stores nothing and returns the existing record (Result.Created
// false; Result.Conflict if its content differs). The caller bounds the size of r.
func Submit(ctx context.Context, q *queue.Queue, r io.Reader, by queue.Actor) (queue.Result, error) {
	stage := q.NewStage()
	doc, err := writeback.Decode(r, stage)
	if err != nil {
		stage.Discard()
		return queue.Result{}, fmt.Errorf("intake: decode writeback: %w", err)
	}
	res, err := q.Enqueue(ctx, queue.Submission{Doc: doc, Stage: stage}, by)
	if err != nil {
		return queue.Result{}, fmt.Errorf("intake: enqueue: %w", err)
	}
	return res, nil
}
