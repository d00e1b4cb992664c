// Package writeback defines the writeback document an online-consultation platform sends
// ("writeback/v1"), decodes it from JSON with attachment content streamed out of memory,
// and validates it against the published JSON Schema (docs/writeback.schema.json).
//
// The JSON field names are a contract relied on by platforms and tests outside this
// repository: never rename them.
package writeback

import "time"

// SchemaV1 is the only document version this agent accepts.
const SchemaV1 = "writeback/v1"

// Limits on a document. They are part of the contract and mirrored in the JSON Schema.
const (
	MaxJobIDLen         = 128
	MaxAttachmentBytes  = 20 << 20 // 20 MiB decoded, per attachment
	MaxTotalAttachBytes = 50 << 20 // 50 MiB decoded, per writeback
	MaxAttachments      = 20
	MaxCodes            = 100
	MaxSummaryChars     = 100_000
	MaxFileNameChars    = 255
	SNOMEDSystem        = "http://snomed.info/sct"
)

// MaxMetadataBytes bounds the size of a document as sent, excluding the content of its
// attachments' dataBase64 strings. Any valid document is far smaller; the limit bounds the
// memory that Decode holds while validating. It is not part of the JSON Schema.
const MaxMetadataBytes = 2 << 20

// Writeback is one request to file a consultation outcome into a patient's record.
type Writeback struct {
	Schema      string       `json:"schema"`
	JobID       string       `json:"jobId"`
	PracticeODS string       `json:"practiceOds"`
	Author      Author       `json:"author"`
	Patient     Patient      `json:"patient"`
	Summary     string       `json:"summary"`
	Codes       []Code       `json:"codes,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	CreatedAt   time.Time    `json:"createdAt"`
}

// Author is the practice clinician who wrote the outcome.
type Author struct {
	ClinicalUserID string `json:"clinicalUserId"`
	DisplayName    string `json:"displayName"`
}

// Patient identifies whose record the writeback is for.
type Patient struct {
	NHSNumber        string `json:"nhsNumber"`
	FamilyName       string `json:"familyName"`
	GivenNames       string `json:"givenNames,omitempty"`
	DateOfBirth      string `json:"dateOfBirth"` // YYYY-MM-DD
	Sex              string `json:"sex,omitempty"`
	IdentityVerified bool   `json:"identityVerified"`
}

// Code is one coded entry (SNOMED CT), optionally with a value and unit.
type Code struct {
	System  string   `json:"system"`
	Code    string   `json:"code"`
	Display string   `json:"display"`
	Value   *float64 `json:"value,omitempty"`
	Unit    string   `json:"unit,omitempty"`
}

// Attachment is one file to file with the consultation. When a document is decoded with
// Decode, the base64 content is not kept here: it is streamed into the Spool and the
// decoded size and SHA-256 are recorded instead.
type Attachment struct {
	FileName  string `json:"fileName"`
	MediaType string `json:"mediaType"`
	// DataBase64 is only set on documents built in memory (tests, the encoder, DecodeBytes).
	// It is always encoded, even when empty: an empty string is a zero-byte file.
	DataBase64 string `json:"dataBase64"`

	// Set by Decode from the streamed content; not part of the wire document.
	Size   int64  `json:"-"`
	SHA256 []byte `json:"-"`
}
