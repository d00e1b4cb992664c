package dropfolder_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/dropfolder"
	"github.com/writeback-agent/wbagent/agent/servicetest"
)

// assertNoPatientData fails if text quotes any of the document's patient details.
func assertNoPatientData(t *testing.T, text, doc []byte) {
	t.Helper()
	var d struct {
		Patient map[string]any `json:"patient"`
		Summary string         `json:"summary"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	for k, v := range d.Patient {
		if s, ok := v.(string); ok && len(s) > 3 && strings.Contains(string(text), s) {
			t.Errorf("%q quotes patient.%s", text, k)
		}
	}
	if d.Summary != "" && strings.Contains(string(text), d.Summary) {
		t.Errorf("%q quotes the summary", text)
	}
}

// Links dropped in the folder are never followed: a symbolic link to a writeback elsewhere,
// and a hard link (another name of a file kept elsewhere), are moved to failed/ unread, and
// the file they point at is untouched.
func TestDropFolderRefusesLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic and hard links are made with Unix calls here; Windows' no-follow open is tested in nofollow_windows_test.go")
	}
	dir := t.TempDir()
	s := start(t, dir)
	outside := filepath.Join(t.TempDir(), "elsewhere.json")
	if err := os.WriteFile(outside, servicetest.Writeback(t, "drop-link-1", s.Clinicians[0], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "sym.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, filepath.Join(dir, "hard.json")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sym", "hard"} {
		waitFile(t, filepath.Join(dir, dropfolder.FailedDir, name+dropfolder.ErrorSuffix))
		text, _ := os.ReadFile(filepath.Join(dir, dropfolder.FailedDir, name+dropfolder.ErrorSuffix))
		if !strings.Contains(string(text), "link") {
			t.Errorf("%s: error file %q", name, text)
		}
	}
	if _, err := s.q.LookupJob("drop-link-1"); err == nil {
		t.Error("a linked file was queued")
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the linked file was touched: %v", err)
	}
}

// A drop folder whose failed/ was replaced by a link to another folder is not used: the
// service reports it to IT, and writes nothing through the link.
func TestDropFolderRefusesALinkedSubfolder(t *testing.T) {
	dir := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, dropfolder.FailedDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, dropfolder.FailedDir)); err != nil {
		t.Skipf("no symbolic link could be made here (Wine 8 creates none): %v", err)
	}
	s := start(t, dir)
	drop(t, dir, "bad.json", []byte("not json"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := client.New(s.Socket).Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var found *condition.Condition
		for _, c := range st.Conditions {
			if c.Code == dropfolder.CodeUnsafe {
				found = &c
			}
		}
		if found != nil {
			if found.Owner != condition.IT || !strings.Contains(found.Fix, "delete") {
				t.Errorf("condition %+v", found)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no drop-folder-unsafe condition")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("the service wrote through the link: %v", entries)
	}
}

// Queued files an earlier version kept in processed/ (patient data in clear) are deleted at
// start, each leaving a receipt.
func TestDropFolderDeletesFilesEarlierVersionsKept(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, dropfolder.ProcessedDir), 0o700); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, dropfolder.ProcessedDir, "old.json")
	if err := os.WriteFile(old, []byte(`{"patient":{"familyName":"Zzyzxcanary"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, dir)
	waitFile(t, filepath.Join(dir, dropfolder.ProcessedDir, "old"+dropfolder.ReceiptSuffix))
	waitGone(t, old)
	receipt, _ := os.ReadFile(filepath.Join(dir, dropfolder.ProcessedDir, "old"+dropfolder.ReceiptSuffix))
	if strings.Contains(string(receipt), "Zzyzxcanary") {
		t.Errorf("receipt %q quotes the file", receipt)
	}
}
