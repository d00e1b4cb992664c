package emisopen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// Filing is the body of a FileRecord request, a MedicalRecord38 message.
// The consultation, its events and attachments are decoded; every other
// property that carries a value (not null, not an empty list or object) is
// kept raw in Other, by name, for the caller to judge.
type Filing struct {
	ConsultationList []Consultation
	EventList        []Event
	AttachmentList   []Attachment
	PatientID        string
	Other            map[string]json.RawMessage
}

// DecodeFiling decodes a FileRecord body. Unknown properties inside
// consultations, events and attachments are an error; the body is expected
// to have passed validation against the OpenAPI document first, which
// rules them out.
func DecodeFiling(data []byte) (*Filing, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("decode filing: %w", err)
	}
	f := &Filing{Other: map[string]json.RawMessage{}}
	fields := map[string]any{
		"consultationList": &f.ConsultationList,
		"eventList":        &f.EventList,
		"attachmentList":   &f.AttachmentList,
		"patientID":        &f.PatientID,
	}
	for _, name := range slices.Sorted(maps.Keys(top)) {
		raw := top[name]
		dst, ok := fields[name]
		if !ok {
			if hasValue(raw) {
				f.Other[name] = raw
			}
			continue
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("decode filing %s: %w", name, err)
		}
	}
	return f, nil
}

// hasValue reports whether raw JSON is something other than null, [] or {}.
func hasValue(raw json.RawMessage) bool {
	switch string(bytes.Join(bytes.Fields(raw), nil)) {
	case "null", "[]", "{}", "":
		return false
	}
	return true
}
