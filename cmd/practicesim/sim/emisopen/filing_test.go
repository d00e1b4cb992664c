package emisopen

import (
	"strings"
	"testing"
)

func TestDecodeFiling(t *testing.T) {
	body := `{
		"consultationList": [{"guid": "C1", "pfsVisible": true, "pfsVisibleSpecified": true,
			"elementList": [{"item": {"guid": "E1"}}]}],
		"eventList": [{"guid": "E1", "descriptiveText": "Seen", "problem": {"x": 1}}],
		"attachmentList": null,
		"patientID": "500001",
		"medicationList": [{"guid": "M1"}],
		"allergyList": [],
		"originator": {},
		"noteList": null
	}`
	f, err := DecodeFiling([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ConsultationList) != 1 || f.ConsultationList[0].GUID != "C1" || !f.ConsultationList[0].PfsVisible {
		t.Errorf("consultations = %+v", f.ConsultationList)
	}
	if len(f.EventList) != 1 || f.EventList[0].DescriptiveText != "Seen" || string(f.EventList[0].Problem) != `{"x": 1}` {
		t.Errorf("events = %+v", f.EventList)
	}
	if f.AttachmentList != nil || f.PatientID != "500001" {
		t.Errorf("attachments %v, patientID %q", f.AttachmentList, f.PatientID)
	}
	if len(f.Other) != 1 || f.Other["medicationList"] == nil {
		t.Errorf("other properties with a value = %v, want only medicationList", f.Other)
	}
}

func TestDecodeFilingErrors(t *testing.T) {
	for _, body := range []string{
		`[]`,
		`{"consultationList": [{"guid": "C1", "colour": "red"}]}`,
		`{"eventList": {}}`,
	} {
		if _, err := DecodeFiling([]byte(body)); err == nil || !strings.HasPrefix(err.Error(), "decode filing") {
			t.Errorf("DecodeFiling(%s) = %v, want a decode error", body, err)
		}
	}
}
