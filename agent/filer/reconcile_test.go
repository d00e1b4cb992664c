package filer_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/faults"
)

// Every filing's answer is lost after the practice committed it. The retry finds the
// consultation before filing again: by its GUID when the practice keeps it, by its content
// (same day, same author, same entries) when the practice gives it a GUID of its own. Either
// way the writeback is filed exactly once.
func TestUnknownOutcomeIsReconciledBeforeFilingAgain(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run("ignoreConsultationGuid="+strconv.FormatBool(ignore), func(t *testing.T) {
			p := newPractice(t)
			f := practiceFixture(t, p, options{
				retry: queue.RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2, MaxAttempts: 5},
			})
			author := p.link(p.Filers()[0])
			pt := p.PlainPatients()[0]
			w := doc("unknown-outcome", author)
			w.PracticeODS = p.ods()
			w.Patient = writeback.Patient{NHSNumber: pt.NHSNumber, FamilyName: pt.FamilyName, GivenNames: pt.GivenNames,
				DateOfBirth: pt.DateOfBirth.Format(time.DateOnly), IdentityVerified: true}
			p.SetFaults(faults.Settings{TimeoutAfterCommitRate: 1, IgnoreConsultationGUID: ignore})
			id := f.enqueue(w)
			f.confirm(id, true)
			r := f.waitState(id, queue.Filed)

			all := p.Consultations()
			if len(all) != 1 {
				t.Fatalf("%d consultations in the record for one writeback", len(all))
			}
			c := all[0]
			if r.ConsultationGUID != c.GUID || r.ConsultationID != c.Record.ConsultationList[0].DBID {
				t.Errorf("record filed as %s/%s; the practice has %s/%s", r.ConsultationGUID, r.ConsultationID, c.GUID, c.Record.ConsultationList[0].DBID)
			}
			if sent := clinical.ConsultationGUID(p.ods(), w.JobID); (c.GUID == sent) == ignore {
				t.Errorf("the practice filed it as %s, sent %s (ignoring GUIDs: %t)", c.GUID, sent, ignore)
			}
			if len(r.Attempts) < 2 || !strings.Contains(r.Attempts[0].Detail, "outcome unknown") {
				t.Errorf("attempts %s: want a first one with an unknown outcome", outcomes(r))
			}
			f.assertNoPatientData()
		})
	}
}
