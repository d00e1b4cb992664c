// Package apitype holds the local API's routes and the JSON shapes it speaks, shared by
// the server (package localapi) and its clients (package client: the CLI, the tray, the
// windows). Field names and values are a contract (docs/cli.md): never rename them.
package apitype

import (
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Host is the Host header of every request to the local API. Requests with another Host
// are refused, as are requests with an Origin or Referer header: a web page must never
// reach the API.
const Host = "local-wbagentd.sock"

// Routes. {id} is a record id.
const (
	Prefix      = "/localapi/v0"
	PathStatus  = Prefix + "/status"
	PathWatch   = Prefix + "/watch"
	PathQueue   = Prefix + "/queue"
	PathRecord  = Prefix + "/queue/{id}"
	PathConfirm = Prefix + "/queue/{id}/confirm"
	PathReject  = Prefix + "/queue/{id}/reject"
	PathRetry   = Prefix + "/queue/{id}/retry"
	PathCancel  = Prefix + "/queue/{id}/cancel"
	PathLink    = Prefix + "/link"
	PathDiag    = Prefix + "/diag"
	PathProbe   = Prefix + "/probe" // POST: probe the integration now (every linked clinician and the platform); answers when done
	// PathAttachment is GET: attachment {index} (from 0) of record {id}, its bytes, for the
	// record's clinician only.
	PathAttachment = Prefix + "/queue/{id}/attachments/{index}"
	PathMetrics    = "/metrics"
	QueryState     = "state" // GET PathQueue?state=S (repeatable)
	QueryOSUser    = "user"  // DELETE PathLink?user=OSUSERID (administrators)
	QueryMatch     = "match" // GET PathRecord?match=true: look the patient up in the clinical system (RecordDetail.Match)
	ContentNDJSON  = "application/x-ndjson"
)

// Status is the answer to GET PathStatus and the status in watch events: the overall
// state, the queue's counts (every state) and the conditions.
type Status struct {
	State      condition.Overall     `json:"state"`
	Counts     map[queue.State]int   `json:"counts"`
	Conditions []condition.Condition `json:"conditions"`
	Version    string                `json:"version,omitempty"` // the service's
	Caller     *Caller               `json:"caller,omitempty"`
	// LastFiledAt is when the service last filed a writeback (any clinician's); zero: never.
	LastFiledAt time.Time `json:"lastFiledAt,omitzero"`
}

// ProbeResult is the answer to POST PathProbe: what each fresh check found, and the status
// once every result is applied (conditions raised or cleared by the probe are in it).
type ProbeResult struct {
	Checks []ProbeCheck `json:"checks"`
	Status Status       `json:"status"`
	// Incomplete is true when the probe's time bound ended before every check answered;
	// those checks have OK false and Code "timeout".
	Incomplete bool `json:"incomplete,omitempty"`
}

// ProbeCheck is one fresh check made by POST PathProbe. It never names a patient.
type ProbeCheck struct {
	// Subject is what was checked: "platform", or "clinician:" and a clinical user id.
	Subject string `json:"subject"`
	// Title is a one-line description for people, e.g. "Dr A Smith's sign-in to EMIS".
	Title  string `json:"title"`
	OK     bool   `json:"ok"`
	Code   string `json:"code,omitempty"`   // the condition code a failure raises
	Detail string `json:"detail,omitempty"` // one line, for people
}

// Caller is who asked, as the service identified them.
type Caller struct {
	OSUser         string `json:"osUser"`
	Admin          bool   `json:"admin"`
	ClinicalUserID string `json:"clinicalUserId,omitempty"` // the clinical user they are linked to
	ClinicalName   string `json:"clinicalName,omitempty"`
	RelinkNeeded   bool   `json:"relinkNeeded,omitempty"`
}

// Record is a queued writeback without patient data: what anyone at the PC may see.
// Reason carries only its code unless the caller is the record's clinician (the text can
// name the patient).
type Record struct {
	ID               uint64        `json:"id"`
	JobID            string        `json:"jobId"`
	State            queue.State   `json:"state"`
	Reason           *queue.Reason `json:"reason,omitempty"`
	ConsultationGUID string        `json:"consultationGuid,omitempty"`
	Author           string        `json:"author"` // the clinical user id it belongs to
	Mine             bool          `json:"mine"`   // the caller is linked to the author
	PfsVisible       bool          `json:"pfsVisible"`
	OutcomeUnknown   bool          `json:"outcomeUnknown,omitempty"`
	Attempts         int           `json:"attempts"`
	NextAttemptAt    time.Time     `json:"nextAttemptAt,omitzero"`
	CreatedAt        time.Time     `json:"createdAt"`
	UpdatedAt        time.Time     `json:"updatedAt"`
	Version          uint64        `json:"version"` // send it back with a confirmation
}

// RecordDetail is the answer to GET PathRecord. Content is present only for the record's
// clinician, and only until retention wipes it.
type RecordDetail struct {
	Record
	History []queue.Attempt    `json:"history"`
	Audit   []queue.AuditEntry `json:"audit"`
	Wiped   bool               `json:"wiped,omitempty"`
	Content *Content           `json:"content,omitempty"`
	// Match is the clinical system's patient for the writeback, looked up when the record's
	// clinician asks for it (QueryMatch) of a record waiting for confirmation (only with
	// Content).
	Match *Match `json:"match,omitempty"`
}

// Match is what the clinical system holds for a writeback's patient, looked up afresh, and
// the identity checks' results, for the clinician to compare before confirming.
type Match struct {
	// Patient is the one record carrying the request's NHS number; nil when there is none,
	// there are several (Matches says how many) or the look-up failed (Error).
	Patient          *MatchedPatient `json:"patient,omitempty"`
	Matches          int             `json:"matches"`          // records carrying the NHS number
	NHSNumberValid   bool            `json:"nhsNumberValid"`   // 10 digits, Modulus 11 check digit
	IdentityVerified bool            `json:"identityVerified"` // the platform verified the patient
	// Error says, for people, why the clinical system could not be asked (no patient data).
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checkedAt"`
}

// MatchedPatient is a patient's record as the clinical system holds it.
type MatchedPatient struct {
	NHSNumber   string `json:"nhsNumber"`
	FamilyName  string `json:"familyName"`
	GivenNames  string `json:"givenNames,omitempty"`
	DateOfBirth string `json:"dateOfBirth,omitempty"` // YYYY-MM-DD
	Deceased    bool   `json:"deceased,omitempty"`
	Registered  bool   `json:"registered"`
}

// Content is a writeback's patient content.
type Content struct {
	PracticeODS string            `json:"practiceOds"`
	AuthorName  string            `json:"authorName"`
	Patient     writeback.Patient `json:"patient"`
	Summary     string            `json:"summary"`
	Codes       []writeback.Code  `json:"codes"`
	Attachments []Attachment      `json:"attachments"`
	CreatedAt   time.Time         `json:"createdAt"`
}

// Attachment describes an attachment (its content is not sent).
type Attachment struct {
	FileName  string `json:"fileName"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
}

// ConfirmRequest is the body of POST PathConfirm. PfsVisible is required: the clinician
// chooses whether the patient sees the consultation online. Version, if set, must be the
// version the clinician reviewed.
type ConfirmRequest struct {
	PfsVisible *bool  `json:"pfsVisible"`
	Version    uint64 `json:"version,omitempty"`
}

// ReasonRequest is the body of POST PathReject and PathCancel.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// EnqueueResult is the answer to POST PathQueue (the body is a writeback/v1 document).
type EnqueueResult struct {
	ID       uint64 `json:"id"`
	JobID    string `json:"jobId"`
	Created  bool   `json:"created"`  // false: the job was already queued as this record
	Conflict bool   `json:"conflict"` // already queued with different content; the first is kept
}

// LinkState is the answer to GET PathLink: where to sign in, and the caller's link.
type LinkState struct {
	Settings     link.Settings `json:"settings"`
	Link         *link.Link    `json:"link,omitempty"`
	RelinkNeeded bool          `json:"relinkNeeded,omitempty"`
}

// LinkRequest is the body of POST PathLink: the caller's sign-in, for the service to verify
// with the issuer and store.
type LinkRequest struct {
	ClinicalUserID string    `json:"clinicalUserId"`
	AccessToken    string    `json:"accessToken"`
	RefreshToken   string    `json:"refreshToken"`
	TokenType      string    `json:"tokenType,omitempty"`
	Expiry         time.Time `json:"expiry,omitzero"`
	// IDToken is the raw OpenID Connect ID token of the sign-in: the service links only a
	// sign-in whose ID token was issued to the agent's client id by the configured issuer.
	IDToken string `json:"idToken,omitempty"`
}

// EventType says what a watch event carries.
type EventType string

// Event types. Serialised: never change them.
const (
	EventState  EventType = "state"  // Status and Records: the whole current state (always first)
	EventStatus EventType = "status" // Status changed
	EventRecord EventType = "record" // Record changed
)

// Event is one line of the watch stream (GET PathWatch, newline-delimited JSON).
type Event struct {
	Type    EventType `json:"type"`
	Status  *Status   `json:"status,omitempty"`
	Records []Record  `json:"records,omitzero"` // EventState: every record not finished (not filed, rejected or cancelled)
	Record  *Record   `json:"record,omitempty"`
}

// Error is the body of every error answer.
type Error struct {
	Error    string   `json:"error"`              // one line, for people
	Code     string   `json:"code"`               // one of the ErrorCode constants
	Problems []string `json:"problems,omitempty"` // an invalid document's problems (field: rule)
}

// Error codes. Serialised: never change them.
const (
	CodeBadRequest      = "bad-request"
	CodeInvalidDocument = "invalid-document"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not-found"
	CodeNotLinked       = "not-linked"
	CodeConflict        = "conflict"
	CodeGone            = "gone"
	CodeVerifyFailed    = "verify-failed"
	CodeInternal        = "internal"
)
