// Package platformapi is the platform/v1 contract between the agent and the online
// consultation platform (docs/platform-api.md): its paths, limits, outcome states and JSON
// shapes. The agent's client (agent/source) and the platform simulator (practicesim) both
// use it, so neither can drift from the other. Serialised: never change a name or value.
package platformapi

import "encoding/json"

// Prefix starts every platform/v1 path: Prefix + "/practices/{ods}/writebacks|acks|outcomes".
const Prefix = "/platform/v1"

// Page sizes of a pull.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Outcome states the agent reports.
const (
	OutcomeFiled   = "filed"
	OutcomeReject  = "rejected"
	OutcomeAttn    = "needs-attention"
	OutcomeCancel  = "cancelled"
	OutcomeInvalid = "invalid" // the document failed validation and was never queued
	// OutcomeConflict: the job id was sent again with content other than the queued job's;
	// the first content is kept (and goes on to its own outcome), the second is dropped.
	OutcomeConflict = "conflict"
)

// OutcomeStates lists every outcome state.
var OutcomeStates = []string{OutcomeFiled, OutcomeReject, OutcomeAttn, OutcomeCancel, OutcomeInvalid, OutcomeConflict}

// Item is one writeback of a page; Document is the writeback/v1 document as sent.
type Item struct {
	Seq      int64           `json:"seq"`
	JobID    string          `json:"jobId"`
	Document json.RawMessage `json:"document"`
}

// Page is the answer to a pull.
type Page struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"nextCursor"`
}

// Acks is the body of an acknowledgement: the jobs now durably queued.
type Acks struct {
	JobIDs []string `json:"jobIds"`
}

// Outcome is one writeback's outcome. It carries no patient data: the job id, the state,
// the consultation's GUID and id, a reason code and the time.
type Outcome struct {
	JobID            string `json:"jobId"`
	State            string `json:"state"`
	ConsultationGUID string `json:"consultationGuid,omitempty"`
	ConsultationID   string `json:"consultationId,omitempty"`
	ReasonCode       string `json:"reasonCode,omitempty"`
	At               string `json:"at,omitempty"`
}

// Outcomes is the body of an outcome report.
type Outcomes struct {
	Outcomes []Outcome `json:"outcomes"`
}
