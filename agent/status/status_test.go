package status

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/docs"
)

func enqueue(t *testing.T, q *queue.Queue, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for i := range n {
		doc, err := writeback.DecodeBytes(docs.ExampleWriteback)
		if err != nil {
			t.Fatal(err)
		}
		doc.JobID = fmt.Sprintf("status-test-%d", i)
		res, err := q.Enqueue(context.Background(), queue.Submission{Doc: doc}, queue.Actor{Component: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	return ids
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, seal.KeySize)
	q, err := queue.Open(queue.Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	sealer, _ := seal.New(key)
	links, err := link.Open(link.Options{Dir: dir, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	board := condition.NewBoard(nil)
	r := New(q, links, board)

	codes := func(rep Report) []string {
		var out []string
		for _, c := range rep.Conditions {
			out = append(out, c.Code)
		}
		return out
	}

	rep, err := r.Report()
	if err != nil {
		t.Fatal(err)
	}
	if rep.State != condition.Attention || fmt.Sprint(codes(rep)) != "["+CodeNoClinicianLinked+"]" {
		t.Errorf("empty queue, no links: %s %v", rep.State, codes(rep))
	}
	if len(rep.Counts) != len(queue.States) {
		t.Errorf("counts %v: want every state", rep.Counts)
	}

	ids := enqueue(t, q, 3)
	by := queue.Actor{Component: "test"}
	ctx := context.Background()
	for _, id := range ids[:2] {
		if _, err := q.MarkChecked(ctx, id, by); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.NeedsAttention(ctx, ids[2], queue.Reason{Code: "surname-mismatch"}, by); err != nil {
		t.Fatal(err)
	}
	board.Set("watcher", []condition.Condition{{Code: "application-deactivated", Severity: condition.Blocking,
		Owner: condition.PracticeManager, Title: "Writeback Agent is deactivated in EMAS Manager", Fix: "Activate it."}})

	rep, err = r.Report()
	if err != nil {
		t.Fatal(err)
	}
	want := "[application-deactivated no-clinician-linked records-need-attention filings-awaiting-confirmation]"
	if got := fmt.Sprint(codes(rep)); got != want {
		t.Errorf("conditions %s, want %s", got, want)
	}
	if rep.State != condition.Blocked || rep.Counts[queue.NeedsConfirmation] != 2 || rep.Counts[queue.NeedsAttention] != 1 {
		t.Errorf("report %+v", rep)
	}
	for _, c := range rep.Conditions {
		if c.Title == "" || c.Severity == "" || c.Fix == "" || c.Owner == "" {
			t.Errorf("incomplete condition %+v", c)
		}
		// Each clinician is told how many are theirs.
		switch c.Code {
		case CodeAwaitingConfirmation:
			if !strings.Contains(c.Fix, "Waiting for: clinical user G8123456: 2") {
				t.Errorf("awaiting confirmation does not name the clinician: %q", c.Fix)
			}
		case CodeRecordsNeedAttention:
			if !strings.Contains(c.Fix, "Waiting: clinical user G8123456: 1") {
				t.Errorf("needs attention does not name the clinician: %q", c.Fix)
			}
		}
	}
}

func TestRelinkNeededNamesTheClinicians(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, seal.KeySize)
	q, err := queue.Open(queue.Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// A store whose only clinician must link again (as after a refused refresh).
	stored := `{"format":1,"links":[{"osUserId":"1000","osUser":"alice","clinicalUserId":"10001"}],` +
		`"accounts":{"10001":{"name":"Dr Ada Lovelace","relinkNeeded":true,"token":null}}}`
	if err := os.WriteFile(filepath.Join(dir, link.FileName), []byte(stored), 0o600); err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(key)
	links, err := link.Open(link.Options{Dir: dir, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := New(q, links, condition.NewBoard(nil)).Report()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Conditions) != 1 || rep.Conditions[0].Code != CodeRelinkNeeded ||
		!strings.Contains(rep.Conditions[0].Fix, "Dr Ada Lovelace (10001)") || rep.State != condition.Attention {
		t.Errorf("report %+v", rep)
	}
}
