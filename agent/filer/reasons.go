package filer

import (
	"errors"
	"fmt"

	"github.com/writeback-agent/wbagent/agent/checks"
	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/seal"
)

// Reason codes of the engine's own (the pre-filing checks' are in package checks). They are
// stored with records: never change a value.
const (
	CodeRecordUnreadable     = "record-unreadable"
	CodeAttachmentDamaged    = "attachment-damaged"
	CodeRefused              = "clinical-system-refused"
	CodeDuplicateUnconfirmed = "duplicate-unconfirmed"
	CodeInterrupted          = "interrupted"
)

// response is what the engine does about a kind of failure.
type response int

const (
	retry  response = iota // a passing failure: back off and try again
	pause                  // the author's integration is broken: release, hold their records
	attend                 // retrying cannot help: the record needs a person
)

func action(k clinical.Kind) response {
	switch k {
	case clinical.ErrTokenExpired, clinical.ErrNotLinked, clinical.ErrRelinkNeeded,
		clinical.ErrApplicationNotActivated, clinical.ErrNoLoginAccess, clinical.ErrInsufficientRole,
		clinical.ErrAccessDenied, clinical.ErrUserNotFound, clinical.ErrWrongPractice:
		return pause
	case clinical.ErrPatientNotFound, clinical.ErrPatientNotRegistered, clinical.ErrBadRequest,
		clinical.ErrConsultationNotFound, clinical.ErrDuplicateConsultation:
		return attend
	}
	return retry
}

func failureReason(f *checks.Failure) *queue.Reason {
	return &queue.Reason{Code: f.Code, Text: f.Text, Fix: f.Fix}
}

// refusalReason explains a refusal by the clinical system that retrying cannot mend.
func refusalReason(e *clinical.Error) *queue.Reason {
	switch e.Kind {
	case clinical.ErrPatientNotFound:
		return &queue.Reason{Code: checks.CodePatientNotFound,
			Text: "The clinical system no longer has the patient record this writeback was matched to.",
			Fix:  "Check the patient's record (it may have been merged or moved), then choose Retry to check the writeback again."}
	case clinical.ErrPatientNotRegistered:
		return &queue.Reason{Code: checks.CodePatientNotRegistered,
			Text: "The clinical system refused the filing: the patient is no longer registered at the practice, or has died.",
			Fix:  "Check the patient's registration. Reject the writeback, or file what is needed by hand."}
	}
	return &queue.Reason{Code: CodeRefused,
		Text: fmt.Sprintf("The clinical system refused the writeback (%s: %s).", e.Code(), e.Detail()),
		Fix:  "Report this to Writeback Agent support with the record number; file the outcome by hand meanwhile, then reject it here."}
}

func unreadable(err error) *queue.Reason {
	return &queue.Reason{Code: CodeRecordUnreadable,
		Text: fmt.Sprintf("The writeback cannot be read back from the agent's store (%v).", safeQueueError(err)),
		Fix:  "Ask the online consultation platform to send it again, then reject this one. If it happens again, contact support."}
}

func damaged(r *queue.Record, i int, err error) *queue.Reason {
	return &queue.Reason{Code: CodeAttachmentDamaged,
		Text: fmt.Sprintf("Attachment %d (%s) cannot be read back intact from the agent's store (%v).", i+1, r.Attachments[i].FileName, safeQueueError(err)),
		Fix:  "Ask the online consultation platform to send the writeback again, then reject this one. If it happens again, contact support."}
}

// safeQueueError names a store failure by its kind.
func safeQueueError(err error) string {
	switch {
	case errors.Is(err, seal.ErrTampered):
		return "its encryption does not check out"
	case errors.Is(err, queue.ErrWiped):
		return "its content was removed at retention"
	case errors.Is(err, queue.ErrNotFound):
		return "it is missing"
	}
	return "a read error"
}

func reasonCode(r *queue.Reason) string {
	if r == nil {
		return ""
	}
	return r.Code
}
