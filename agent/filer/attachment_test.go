package filer_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/filer"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// largePNG is a PNG signature and enough bytes after it to span many of the store's sealed
// chunks, so that damage near its end is found part-way through reading it.
var largePNG = append(append([]byte{}, pngContent...), bytes.Repeat([]byte{0x5a}, 1<<20)...)

func docWithAttachment(job, author string, content []byte) *writeback.Writeback {
	w := doc(job, author)
	w.Attachments[0].DataBase64 = base64.StdEncoding.EncodeToString(content)
	return w
}

// blob returns the path of the one attachment file in the fixture's queue.
func (f *fixture) blob() string {
	f.t.Helper()
	dir := filepath.Join(f.dir, queue.BlobsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) != 1 {
		f.t.Fatalf("%d attachment files in the queue, want 1", len(files))
	}
	return files[0]
}

// alter flips a byte near the end of a file: its last sealed chunk no longer authenticates.
func alter(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-20] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// cutShort drops the end of a file.
func cutShort(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-1000); err != nil {
		t.Fatal(err)
	}
}

func TestAttachmentsAreStreamedFromTheQueue(t *testing.T) {
	sys := newFakeSystem()
	f := newFixture(t, sys, options{})
	id := f.enqueue(docWithAttachment("job-1", "10001", largePNG))
	f.confirm(id, false)
	r := f.waitState(id, queue.Filed)
	if got := sys.attachmentsFiled(r.ConsultationGUID); len(got) != 1 || !bytes.Equal(got[0], largePNG) {
		t.Errorf("filed %d attachments, want the one enqueued", len(got))
	}
}

// TestDamagedAttachmentNeedsAttention: an attachment whose file is damaged after the checks
// read it whole stops its record for a person with the damaged-attachment reason, whether the
// damage is found before the filing is sent (nothing is sent) or while the attachment is
// being streamed into it (the filing is aborted, its outcome unknown). Either way it is one
// attempt, never a retry.
func TestDamagedAttachmentNeedsAttention(t *testing.T) {
	tests := []struct {
		name        string
		damage      func(testing.TB, string)
		whileFiling bool
	}{
		{"altered while waiting for confirmation", alter, false},
		{"cut short while waiting for confirmation", cutShort, false},
		{"altered while being filed", alter, true},
		{"cut short while being filed", cutShort, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := newFakeSystem()
			f := newFixture(t, sys, options{})
			id := f.enqueue(docWithAttachment("job-1", "10001", largePNG))
			f.waitState(id, queue.NeedsConfirmation) // checked: the attachment read back whole
			path := f.blob()
			if tt.whileFiling {
				// After the engine read the attachment whole before filing, as File starts to
				// stream it.
				sys.mu.Lock()
				sys.beforeFile = func() { tt.damage(t, path) }
				sys.mu.Unlock()
			} else {
				tt.damage(t, path)
			}
			f.confirm(id, false)
			r := f.waitState(id, queue.NeedsAttention)
			if r.Reason == nil || r.Reason.Code != filer.CodeAttachmentDamaged ||
				!strings.HasPrefix(r.Reason.Text, "Attachment 1 (photo.png) cannot be read back intact from the agent's store") || r.Reason.Fix == "" {
				t.Errorf("reason %+v, want %s", r.Reason, filer.CodeAttachmentDamaged)
			}
			if got := outcomes(r); got != "attention" {
				t.Errorf("attempts %s, want one: attention", got)
			}
			wantFiles := 0
			if tt.whileFiling {
				wantFiles = 1
			}
			if n := sys.count("File"); n != wantFiles {
				t.Errorf("File called %d times, want %d", n, wantFiles)
			}
			if r.OutcomeUnknown != tt.whileFiling {
				t.Errorf("outcome unknown %t: want it only when the filing was aborted part-way", r.OutcomeUnknown)
			}
			if sys.filedCount() != 0 {
				t.Error("filed")
			}
			f.assertNoPatientData()
		})
	}
}
