package emisx

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// The body as it would be built in memory: each attachment's message with its content.
type attachmentWithData struct {
	attachment
	AttachmentData string `json:"attachmentData"`
}

type recordWithData struct {
	medicalRecord
	AttachmentList []attachmentWithData `json:"attachmentList,omitempty"` // shadows medicalRecord's
}

func TestStreamedBodyIsTheDocumentInFull(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	cl := &Client{london: london}
	var opens atomic.Int32
	att := func(content string, size int64) clinical.Attachment {
		return clinical.Attachment{FileName: "scan <1>.pdf", MediaType: "application/pdf", Size: size,
			Open: func() (io.ReadCloser, error) {
				opens.Add(1)
				return io.NopCloser(bytes.NewReader([]byte(content))), nil
			}}
	}
	tests := []struct {
		name    string
		atts    []clinical.Attachment
		content []string
	}{
		{"no attachment", nil, nil},
		{"one", []clinical.Attachment{att("hello", 5)}, []string{"hello"}},
		{"three, one empty", []clinical.Attachment{att("a", 1), att("", 0), att("\x00\xff\"\\", 4)}, []string{"a", "", "\x00\xff\"\\"}},
		{"size unknown", []clinical.Attachment{att("ab", 2), att("xyz", -1)}, []string{"ab", "xyz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opens.Store(0)
			f := &clinical.Filing{ClinicalUserID: "1001", PatientID: "500001", ConsultationGUID: "6f1c1ba5-0f44-5d7c-9a41-3c4a1f1f2c11",
				Date: time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC), PfsVisible: true, Summary: `Summary with "quotes" & <tags>`,
				Codes: []clinical.Code{{ConceptID: "25064002", Term: "Headache"}}, Attachments: tt.atts}
			rec, msgs := cl.record(f)
			body, err := newStreamedBody(rec, msgs, f.Attachments)
			if err != nil {
				t.Fatal(err)
			}
			up := body.upload()
			r, err := up.open()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			if err := up.finish(); err != nil {
				t.Fatal(err)
			}

			want := recordWithData{medicalRecord: rec}
			for i, m := range msgs {
				want.AttachmentList = append(want.AttachmentList, attachmentWithData{m, base64.StdEncoding.EncodeToString([]byte(tt.content[i]))})
			}
			wantJSON, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("the body is not JSON: %v\n%s", err, got)
			}
			json.Unmarshal(wantJSON, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("body\n%s\nwant the document\n%s", got, wantJSON)
			}
			unknown := false
			for _, a := range tt.atts {
				unknown = unknown || a.Size < 0
			}
			if unknown && body.length != -1 || !unknown && body.length != int64(len(got)) {
				t.Errorf("announced length %d, the body has %d bytes (size unknown: %t)", body.length, len(got), unknown)
			}
			if int(opens.Load()) != len(tt.atts) {
				t.Errorf("%d attachments opened, want %d", opens.Load(), len(tt.atts))
			}
		})
	}
}

// A body the transport never reads opens no attachment and starts no writer; once the
// request has ended, it cannot be read again.
func TestUnreadBodyOpensNothing(t *testing.T) {
	var opens atomic.Int32
	a := clinical.Attachment{Size: 1, Open: func() (io.ReadCloser, error) {
		opens.Add(1)
		return io.NopCloser(bytes.NewReader([]byte("x"))), nil
	}}
	body, err := newStreamedBody(medicalRecord{PatientID: "1"}, []attachment{{Title: "x"}}, []clinical.Attachment{a})
	if err != nil {
		t.Fatal(err)
	}
	up := body.upload()
	r, _ := up.open()
	if err := up.finish(); err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err == nil {
		t.Errorf("read %d bytes, %v after the request ended", n, err)
	}
	if _, err := up.open(); err == nil {
		t.Error("opened again after the request ended")
	}
	if opens.Load() != 0 {
		t.Errorf("attachment opened %d times", opens.Load())
	}
}
