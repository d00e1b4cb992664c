package dropfolder_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/dropfolder"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// grab hands the test the service's queue.
type grab chan *queue.Queue

func (grab) Name() string { return "grab" }
func (g grab) Run(ctx context.Context, env service.Env) error {
	g <- env.Queue
	<-ctx.Done()
	return nil
}

type stack struct {
	*servicetest.Stack
	q    *queue.Queue
	drop string
}

// start starts the service with the drop folder drop (already holding what the test put there).
func start(t *testing.T, drop string) *stack {
	t.Helper()
	g := make(grab, 1)
	st := servicetest.Start(t, servicetest.Options{
		Components: []service.Component{dropfolder.Component{Settle: 50 * time.Millisecond}, g},
		Configure:  func(c *config.Config) { c.Source.DropFolder = drop },
	})
	s := &stack{Stack: st, q: <-g, drop: drop}
	return s
}

// startReady is start, then waits for the component to have set the folder up (it does so
// in its own goroutine after the service has started).
func startReady(t *testing.T, drop string) *stack {
	t.Helper()
	s := start(t, drop)
	waitFile(t, filepath.Join(drop, dropfolder.FailedDir))
	return s
}

// drop writes a file the documented way: under a .tmp name, then renamed.
func drop(t *testing.T, dir, name string, content []byte) {
	t.Helper()
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// waitFile waits until path exists.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func gone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("%s is still there (err %v)", path, err)
	}
}

// waitGone waits until path no longer exists (a queued file is deleted just after its
// receipt is written).
func waitGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Lstat(path); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still there", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queuedBy returns the record of jobID and checks the drop folder queued it.
func queuedBy(t *testing.T, q *queue.Queue, jobID string) uint64 {
	t.Helper()
	id, err := q.LookupJob(jobID)
	if err != nil {
		t.Fatalf("job %s not queued: %v", jobID, err)
	}
	var actors []string
	if err := q.Audit(0, id, func(e queue.AuditEntry) error {
		actors = append(actors, e.Actor.Component)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(actors) == 0 || actors[0] != dropfolder.Name {
		t.Fatalf("job %s: audit actors %v, want %q first", jobID, actors, dropfolder.Name)
	}
	return id
}

func TestDropFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "drop") // created by the component
	s := startReady(t, dir)
	gp := s.Clinicians[0]
	valid := servicetest.Writeback(t, "drop-valid-1", gp, nil)
	invalid := servicetest.Writeback(t, "drop-invalid-1", gp, func(w *writeback.Writeback) {
		w.Patient.DateOfBirth = "2999-01-01"
	})
	conflicting := servicetest.Writeback(t, "drop-valid-1", gp, func(w *writeback.Writeback) { w.Summary = "Something else." })

	tests := []struct {
		name      string
		file      string
		content   []byte
		wantIn    string // processed or failed
		wantJob   string // queued by the drop folder
		wantError []string
	}{
		{name: "valid file queued and deleted, with a receipt", file: "a.json", content: valid, wantIn: dropfolder.ProcessedDir, wantJob: "drop-valid-1"},
		{name: "duplicate job id is idempotent", file: "a-again.json", content: valid, wantIn: dropfolder.ProcessedDir, wantJob: "drop-valid-1"},
		{name: "same name again is kept", file: "a.json", content: valid, wantIn: dropfolder.ProcessedDir},
		{name: "invalid file names the field", file: "bad.json", content: invalid, wantIn: dropfolder.FailedDir,
			wantError: []string{"patient.dateOfBirth", "Fix"}},
		{name: "not JSON", file: "junk.JSON", content: []byte("not json"), wantIn: dropfolder.FailedDir, wantError: []string{"Fix"}},
		{name: "same job id, other content", file: "conflict.json", content: conflicting, wantIn: dropfolder.FailedDir,
			wantError: []string{"jobId", "Fix"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := filepath.Ext(tt.file)
			if tt.wantIn == dropfolder.ProcessedDir {
				ext = dropfolder.ReceiptSuffix // a queued file is deleted: only its receipt is kept
			}
			moved := filepath.Join(dir, tt.wantIn, strings.TrimSuffix(tt.file, filepath.Ext(tt.file))+ext)
			if _, err := os.Stat(moved); err == nil { // the same name was moved there before
				moved = filepath.Join(dir, tt.wantIn, strings.TrimSuffix(tt.file, filepath.Ext(tt.file))+"-2"+ext)
			}
			drop(t, dir, tt.file, tt.content)
			waitFile(t, moved)
			waitGone(t, filepath.Join(dir, tt.file))
			if tt.wantJob != "" {
				id := queuedBy(t, s.q, tt.wantJob)
				receipt, err := os.ReadFile(moved)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(receipt), "record "+strconv.FormatUint(id, 10)) || !strings.Contains(string(receipt), tt.wantJob) {
					t.Errorf("receipt %q does not name the record and job", receipt)
				}
				assertNoPatientData(t, receipt, tt.content)
			}
			if tt.wantIn == dropfolder.ProcessedDir {
				return
			}
			errFile := strings.TrimSuffix(moved, filepath.Ext(moved)) + dropfolder.ErrorSuffix
			if tt.wantError == nil {
				gone(t, errFile)
				return
			}
			text, err := os.ReadFile(errFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wantError {
				if !strings.Contains(string(text), w) {
					t.Errorf("error file %q does not mention %q", text, w)
				}
			}
			if strings.Contains(string(text), "2999-01-01") || strings.Contains(string(text), "Something else") {
				t.Errorf("error file quotes the document: %q", text)
			}
		})
	}
	n := 0
	if err := s.q.Each(queue.Filter{}, func(*queue.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d records queued, want 1 (duplicates must not queue again)", n)
	}
	// Files that are not *.json (still being written, by convention) are left alone.
	tmp := filepath.Join(dir, "later.json.tmp")
	if err := os.WriteFile(tmp, valid, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("a .tmp file was touched: %v", err)
	}
}

// A file written in place in pieces is read only once it is complete.
func TestDropFolderWaitsForAFileStillBeingWritten(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	doc := servicetest.Writeback(t, "drop-slow-1", s.Clinicians[0], nil)
	f, err := os.Create(filepath.Join(dir, "slow.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(doc); i += len(doc)/4 + 1 {
		if _, err := f.Write(doc[i:min(i+len(doc)/4+1, len(doc))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // under the settle time
	}
	f.Close()
	waitFile(t, filepath.Join(dir, dropfolder.ProcessedDir, "slow"+dropfolder.ReceiptSuffix))
	queuedBy(t, s.q, "drop-slow-1")
	if _, err := os.Stat(filepath.Join(dir, dropfolder.FailedDir, "slow.json")); err == nil {
		t.Fatal("a file still being written was failed")
	}
}

// Files left in the folder while the service was stopped are queued at start.
func TestDropFolderPicksUpFilesLeftBehind(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir)
	if err := first.Service.Stop(); err != nil {
		t.Fatal(err)
	}
	drop(t, dir, "left.json", servicetest.Writeback(t, "drop-left-1", first.Clinicians[0], nil))
	s := start(t, dir)
	waitFile(t, filepath.Join(dir, dropfolder.ProcessedDir, "left"+dropfolder.ReceiptSuffix))
	queuedBy(t, s.q, "drop-left-1")
}
