//go:build linux

package localapi_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
)

// queueGrab hands the test the service's queue, to move a record along by hand.
type queueGrab chan *queue.Queue

func (g queueGrab) Name() string { return "queue grab (test)" }

func (g queueGrab) Run(ctx context.Context, env service.Env) error {
	g <- env.Queue
	<-ctx.Done()
	return nil
}

func TestStatusSaysWhenTheServiceLastFiled(t *testing.T) {
	grab := make(queueGrab, 1)
	stack := servicetest.Start(t, servicetest.Options{Components: []service.Component{grab}})
	q := <-grab
	ctx := t.Context()
	c := client.New(stack.Socket)

	st, err := c.Status(ctx)
	if err != nil || !st.LastFiledAt.IsZero() {
		t.Fatalf("before any filing: %v, %v; want no time", st.LastFiledAt, err)
	}
	w, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if e, err := w.Next(); err != nil || e.Type != apitype.EventState || !e.Status.LastFiledAt.IsZero() {
		t.Fatalf("first event %+v, %v", e, err)
	}

	res, err := c.Enqueue(ctx, bytes.NewReader(servicetest.Writeback(t, "filed-1", stack.Clinicians[0], nil)))
	if err != nil {
		t.Fatal(err)
	}
	by := queue.Actor{Component: "test"}
	if _, err := q.MarkChecked(ctx, res.ID, by); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Confirm(ctx, res.ID, queue.ConfirmOptions{PfsVisible: true}, by); err != nil {
		t.Fatal(err)
	}
	claim, err := q.Claim(ctx, queue.ClaimRequest{Owner: "test", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	if _, err := q.MarkFiled(ctx, claim.Ticket, queue.FilingOutcome{ConsultationGUID: "6f1f0b6e-0000-4000-8000-000000000001"}); err != nil {
		t.Fatal(err)
	}

	// The watch stream's status after the filing carries its time.
	deadline := time.Now().Add(5 * time.Second)
	for {
		e, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != nil && !e.Status.LastFiledAt.IsZero() {
			if at := e.Status.LastFiledAt; at.Before(before) || at.After(time.Now()) {
				t.Errorf("lastFiledAt %v, want about now", at)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no status with the filing's time")
		}
	}
	// And so does a plain status request.
	if st, err := c.Status(ctx); err != nil || st.LastFiledAt.Before(before) {
		t.Errorf("status after the filing: %v, %v", st.LastFiledAt, err)
	}
}
