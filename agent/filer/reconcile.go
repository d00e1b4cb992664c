package filer

import (
	"context"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// reconcile looks for the consultation an earlier attempt whose outcome is unknown may have
// made, before the record is filed again. A System that can find a filing by its content
// (clinical.FilingFinder) is asked with the filing itself, so a consultation the clinical
// system filed under a GUID of its own is found too; any other is asked for the GUID. It
// returns an error of kind clinical.ErrConsultationNotFound when there is none.
func (e *Engine) reconcile(ctx context.Context, r *queue.Record, doc *writeback.Writeback, patientID, guid string) (queue.FilingOutcome, error) {
	ff, ok := e.cfg.System.(clinical.FilingFinder)
	if !ok {
		return e.lookUp(ctx, r, patientID, guid)
	}
	// FindFiling reads no attachment: their names are what it compares.
	c, err := ff.FindFiling(ctx, filing(r, doc, e.attachments(r, &attachmentReads{}), patientID, guid))
	if err != nil {
		return queue.FilingOutcome{}, err
	}
	if c.GUID == "" {
		c.GUID = guid
	}
	return queue.FilingOutcome{ConsultationGUID: c.GUID, ConsultationID: c.ID}, nil
}
