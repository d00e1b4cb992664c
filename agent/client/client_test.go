package client_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/servicetest"
)

func TestNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := client.New(sock).Status(t.Context())
	var nr *client.NotRunningError
	if !errors.As(err, &nr) || nr.Socket != sock || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Status = %v, want a NotRunningError", err)
	}
}

func TestCallsErrorsAndWatch(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{})
	ctx := t.Context()
	c := client.New(stack.Socket)

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "attention" || st.Caller == nil || !st.Caller.Admin || len(st.Counts) != len(queue.States) {
		t.Errorf("status %+v", st)
	}
	w, err := c.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if e, err := w.Next(); err != nil || e.Type != apitype.EventState {
		t.Fatalf("first event %+v, %v", e, err)
	}

	res, err := c.Enqueue(ctx, bytes.NewReader(servicetest.Writeback(t, "client-1", stack.Clinicians[0], nil)))
	if err != nil || !res.Created {
		t.Fatalf("Enqueue = %+v, %v", res, err)
	}
	if e, err := w.Next(); err != nil || e.Type != apitype.EventRecord || e.Record.ID != res.ID {
		t.Errorf("event after enqueue %+v, %v", e, err)
	}
	list, err := c.Queue(ctx, queue.Received, queue.NeedsConfirmation)
	if err != nil || len(list) != 1 || list[0].JobID != "client-1" {
		t.Errorf("Queue = %+v, %v", list, err)
	}

	_, err = c.Record(ctx, 999)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != apitype.CodeNotFound {
		t.Errorf("Record(999) = %v, want a 404 APIError", err)
	}
	_, err = c.Enqueue(ctx, strings.NewReader(`{"schema":"writeback/v1"}`))
	if !errors.As(err, &ae) || ae.Code != apitype.CodeInvalidDocument || len(ae.Problems) == 0 {
		t.Errorf("Enqueue(invalid) = %v, want the document's problems", err)
	}

	stack.Service.Stop()
	for {
		if _, err := w.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("Next after stop = %v, want io.EOF", err)
			}
			break
		}
	}
}
