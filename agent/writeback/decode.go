package writeback

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// now is the clock used to reject dates of birth in the future; tests replace it.
var now = time.Now

// Decode reads one writeback document from r, streaming each attachment's content into sp,
// and validates it.
//
// Decode holds a bounded amount of memory whatever the size of the attachments: their
// base64 content is decoded as it is read and written to sp.Create(i) for attachment i,
// never held whole. The returned Writeback's attachments have Size and SHA256 set, and
// DataBase64 empty. Decode stops reading as soon as it finds the document invalid, which
// for an attachment that is too large means within a few kilobytes of the limit.
//
// A document is valid if it is a single JSON object, with no field given twice, that
// matches the writeback/v1 JSON Schema (docs/writeback.schema.json) and these rules the
// schema cannot express: each attachment's content is standard base64 (RFC 4648 section 4,
// with padding) of at most MaxAttachmentBytes, MaxTotalAttachBytes in all; the document
// without attachment content is at most MaxMetadataBytes; patient.dateOfBirth is not in the
// future; createdAt is an RFC 3339 date-time.
//
// If the document is invalid the error is, or wraps, a *ValidationError listing the
// problems; other errors come from r or sp. After an error sp may hold partial content,
// which the caller should discard. The caller should bound the size of r (for example with
// http.MaxBytesReader): Decode bounds memory, not time.
func Decode(r io.Reader, sp Spool) (*Writeback, error) {
	w, err := decode(r, sp)
	if err != nil {
		return nil, fmt.Errorf("decode writeback: %w", err)
	}
	return w, nil
}

// DecodeBytes decodes and validates a document held in memory, as Decode does, and keeps
// attachment content in memory: each attachment's DataBase64 holds its content,
// re-encoded, alongside its Size and SHA256. It is meant for tests and small documents.
func DecodeBytes(b []byte) (*Writeback, error) {
	var sp MemorySpool
	w, err := Decode(bytes.NewReader(b), &sp)
	if err != nil {
		return nil, err
	}
	for i := range w.Attachments {
		data, _ := sp.Bytes(i)
		w.Attachments[i].DataBase64 = base64.StdEncoding.EncodeToString(data)
	}
	return w, nil
}

// decode runs the stages of Decode: scan, validate against the schema, check what the
// schema cannot express, unmarshal, and check the result.
func decode(r io.Reader, sp Spool) (*Writeback, error) {
	cs, err := loadSchema()
	if err != nil {
		return nil, err
	}

	s := newScanner(r, sp)
	if err := s.scanDocument(); err != nil {
		return nil, err
	}
	meta := s.out.Bytes()

	// The scanner has checked the syntax, so parsing cannot fail.
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(meta))
	if err != nil {
		return nil, fmt.Errorf("parse scanned document: %w", err)
	}
	if err := cs.validate(inst); err != nil {
		return nil, err
	}
	if err := preflight(inst); err != nil {
		return nil, err
	}

	var w Writeback
	dec := json.NewDecoder(bytes.NewReader(meta))
	dec.DisallowUnknownFields() // the schema has rejected them already; belt and braces
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("unmarshal validated document: %w", err)
	}
	if len(w.Codes) == 0 {
		w.Codes = nil
	}
	if len(w.Attachments) == 0 {
		w.Attachments = nil
	}
	for i := range w.Attachments {
		d, ok := s.digests[i]
		if !ok { // the schema requires dataBase64, which the scanner always streams
			return nil, fmt.Errorf("attachments[%d]: content was not streamed", i)
		}
		w.Attachments[i].Size = d.size
		w.Attachments[i].SHA256 = d.sha256
	}
	if err := check(&w); err != nil {
		return nil, err
	}
	return &w, nil
}

// preflight checks what the schema validator accepts but json.Unmarshal would refuse, so
// that such a document gets a ValidationError rather than an unmarshalling error.
func preflight(inst any) error {
	var ve ValidationError
	doc, _ := inst.(map[string]any)

	// The validator's date-time format accepts leap seconds and lower-case 't' and 'z',
	// which time.Time does not.
	if s, ok := doc["createdAt"].(string); ok {
		var t time.Time
		if err := t.UnmarshalText([]byte(s)); err != nil {
			ve.Problems = append(ve.Problems, Problem{"createdAt", patternHelp["createdAt"]})
		}
	}
	// A number too large for a float64.
	codes, _ := doc["codes"].([]any)
	for i, c := range codes {
		code, _ := c.(map[string]any)
		if n, ok := code["value"].(json.Number); ok {
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				ve.Problems = append(ve.Problems, Problem{
					Field:   fmt.Sprintf("codes[%d].value", i),
					Message: "is too large a number; send a value within the range of a 64-bit floating-point number",
				})
			}
		}
	}
	if len(ve.Problems) > 0 {
		return &ve
	}
	return nil
}

// check applies the rules that the schema cannot express to a decoded document.
func check(w *Writeback) error {
	var ve ValidationError
	// The schema has checked that the date is real. A baby born today in the UK may have
	// a date of birth after today in UTC, hence the day of grace.
	dob, err := time.Parse(time.DateOnly, w.Patient.DateOfBirth)
	if err != nil {
		ve.Problems = append(ve.Problems, Problem{"patient.dateOfBirth", patternHelp["patient.dateOfBirth"]})
	} else if dob.After(now().UTC().AddDate(0, 0, 1)) {
		ve.Problems = append(ve.Problems, Problem{"patient.dateOfBirth", "is in the future; send the patient's date of birth"})
	}
	if len(ve.Problems) > 0 {
		return &ve
	}
	return nil
}

// Encode writes w to wr as a JSON document, followed by a newline. It does not validate w:
// tests use it to build invalid documents too.
func Encode(wr io.Writer, w *Writeback) error {
	enc := json.NewEncoder(wr)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return fmt.Errorf("encode writeback: %w", err)
	}
	return nil
}

// Marshal returns w as a JSON document. Like Encode, it does not validate w.
func Marshal(w *Writeback) ([]byte, error) {
	var b bytes.Buffer
	if err := Encode(&b, w); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
