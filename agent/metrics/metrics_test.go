package metrics

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/bus"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/status"
	"github.com/writeback-agent/wbagent/agent/writeback"
	"github.com/writeback-agent/wbagent/docs"
)

func TestLabel(t *testing.T) {
	for code, want := range map[string]string{
		"timeout":                 "timeout",
		"TokenExpired":            "TokenExpired",
		"emis:3003":               "emis:3003",
		"Mrs O'Neill":             reasonOther,
		"":                        reasonOther,
		strings.Repeat("a", 65):   reasonOther,
		"surname mismatch 943476": reasonOther,
	} {
		if got := label(code); got != want {
			t.Errorf("label(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestFilingsFailuresAndState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := bytes.Repeat([]byte{3}, seal.KeySize)
	b := bus.New()
	q, err := queue.Open(queue.Options{Dir: dir, Key: key, OnChange: func(ch []queue.Change) {
		ids := make([]uint64, len(ch))
		for i, c := range ch {
			ids[i] = c.ID
		}
		b.Publish(bus.Event{Records: ids})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	sealer, _ := seal.New(key)
	links, err := link.Open(link.Options{Dir: dir, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Queue: q, Status: status.New(q, links, condition.NewBoard(nil)), Version: "1.2.3",
		Now: func() time.Time { return time.Now().Add(-time.Minute) }})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(runCtx, b.Subscribe(0)); close(done) }()
	defer func() { stop(); <-done }()

	by := queue.Actor{Component: "test"}
	file := func(i int, fail string) {
		doc, err := writeback.DecodeBytes(docs.ExampleWriteback)
		if err != nil {
			t.Fatal(err)
		}
		doc.JobID = fmt.Sprintf("metrics-%d", i)
		res, err := q.Enqueue(ctx, queue.Submission{Doc: doc}, by)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.MarkChecked(ctx, res.ID, by); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Confirm(ctx, res.ID, queue.ConfirmOptions{PfsVisible: true}, by); err != nil {
			t.Fatal(err)
		}
		c, err := q.Claim(ctx, queue.ClaimRequest{Owner: "test", Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if fail != "" {
			_, err = q.FailFiling(ctx, c.Ticket, queue.Failure{Disposition: queue.Attention, Code: fail})
		} else {
			_, err = q.MarkFiled(ctx, c.Ticket, queue.FilingOutcome{ConsultationGUID: "6f1f0b6e-0000-4000-8000-000000000001"})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	file(1, "")
	file(2, "timeout")
	file(3, "Mrs O'Neill")

	want := []string{
		`wbagent_filings_total 1`,
		`wbagent_filing_failures_total{reason="timeout"} 1`,
		`wbagent_filing_failures_total{reason="other"} 1`,
		`wbagent_queue_records{state="filed"} 1`,
		`wbagent_queue_records{state="needs-attention"} 2`,
		`wbagent_state{state="attention"} 1`,
		`wbagent_condition{code="records-need-attention",owner="clinician",severity="warning"} 1`,
		`wbagent_build_info{goversion=`,
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			if strings.Contains(body, "O'Neill") || strings.Contains(body, "9434765919") {
				t.Error("patient data in the metrics")
			}
			if !strings.Contains(body, NameLastFiled+" 1") && !strings.Contains(body, NameLastFiled+" 2") {
				t.Errorf("no last filing time:\n%s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q:\n%s", missing, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	var text bytes.Buffer
	if err := m.WriteText(&text); err != nil || !strings.Contains(text.String(), "wbagent_filings_total 1") {
		t.Errorf("WriteText: %v\n%s", err, text.String())
	}
}
