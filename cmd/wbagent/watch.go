package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// runWatch prints events until Ctrl-C (exit 0) or until the service stops (exit 1).
func runWatch(ctx context.Context, inv *invocation) int {
	w, err := inv.client().Watch(ctx)
	if err != nil {
		return inv.fail(err)
	}
	defer w.Close()
	stop := context.AfterFunc(ctx, func() { w.Close() })
	defer stop()
	enc := json.NewEncoder(inv.out)
	for {
		e, err := w.Next()
		if ctx.Err() != nil {
			return exitOK
		}
		if errors.Is(err, io.EOF) {
			return inv.fail(errors.New("the Writeback Agent service stopped"))
		}
		if err != nil {
			return inv.fail(err)
		}
		if inv.json {
			enc.Encode(e)
			continue
		}
		printEvent(inv, e)
	}
}

func printEvent(inv *invocation, e apitype.Event) {
	switch e.Type {
	case apitype.EventState:
		fmt.Fprintf(inv.out, "state: %s; %s; %d unfinished writebacks%s\n", e.Status.State, nonZero(e.Status.Counts),
			len(e.Records), conditionCodes(e.Status))
		for _, r := range e.Records {
			printEventRecord(inv, r)
		}
	case apitype.EventStatus:
		fmt.Fprintf(inv.out, "status: %s; %s%s\n", e.Status.State, nonZero(e.Status.Counts), conditionCodes(e.Status))
	case apitype.EventRecord:
		printEventRecord(inv, *e.Record)
	}
}

func printEventRecord(inv *invocation, r apitype.Record) {
	line := fmt.Sprintf("record %d: %s (job %s, author %s", r.ID, r.State, r.JobID, r.Author)
	if r.Mine {
		line += ", yours"
	}
	if r.Reason != nil {
		line += ", reason " + r.Reason.Code
	}
	fmt.Fprintln(inv.out, line+")")
}

func nonZero(counts map[queue.State]int) string {
	var parts []string
	for _, s := range queue.States {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	if len(parts) == 0 {
		return "queue empty"
	}
	return strings.Join(parts, ", ")
}

func conditionCodes(st *apitype.Status) string {
	if len(st.Conditions) == 0 {
		return ""
	}
	codes := make([]string, len(st.Conditions))
	for i, c := range st.Conditions {
		codes[i] = c.Code
	}
	return "; conditions: " + strings.Join(codes, ", ")
}
