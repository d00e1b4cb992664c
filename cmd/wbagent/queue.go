package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// stateList is the --state flag: queue states, repeatable or comma-separated.
type stateList []queue.State

func (s *stateList) String() string {
	parts := make([]string, len(*s))
	for i, st := range *s {
		parts[i] = string(st)
	}
	return strings.Join(parts, ",")
}

func (s *stateList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		st, err := queue.ParseState(strings.TrimSpace(name))
		if err != nil {
			return fmt.Errorf("%w (states: %s)", err, allStates())
		}
		*s = append(*s, st)
	}
	return nil
}

func (s *stateList) Get() any { return []queue.State(*s) }

func allStates() string {
	var names []string
	for _, s := range queue.States {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

func runQueueList(ctx context.Context, inv *invocation) int {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	states := inv.fs.Lookup("state").Value.(*stateList).Get().([]queue.State)
	recs, err := inv.client().Queue(ctx, states...)
	if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, recs)
		return exitOK
	}
	printRecords(inv.out, recs)
	return exitOK
}

func runQueueShow(ctx context.Context, inv *invocation) int {
	id, ok := inv.id()
	if !ok {
		return inv.usageError(fmt.Sprintf("%q is not a record id", inv.pos[0]))
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	d, err := inv.client().Record(ctx, id)
	if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, d)
		return exitOK
	}
	printRecord(inv.out, d)
	return exitOK
}

// act runs an action on the record named by the ID argument and prints the record as
// changed.
func act(ctx context.Context, inv *invocation, done string, do func(ctx context.Context, id uint64) (*apitype.Record, error)) int {
	id, ok := inv.id()
	if !ok {
		return inv.usageError(fmt.Sprintf("%q is not a record id", inv.pos[0]))
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	rec, err := do(ctx, id)
	if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, rec)
		return exitOK
	}
	fmt.Fprintf(inv.out, "Record %d %s: now %s.\n", rec.ID, done, rec.State)
	return exitOK
}

// choice is a boolean flag with no default: Set records that it was given.
type choice struct {
	set, value bool
}

func (c *choice) String() string {
	if c == nil || !c.set {
		return ""
	}
	return strconv.FormatBool(c.value)
}

func (c *choice) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	c.set, c.value = true, b
	return nil
}

func (c *choice) Get() any { return *c }

func runConfirm(ctx context.Context, inv *invocation) int {
	online := inv.fs.Lookup("online-visible").Value.(*choice)
	if !online.set {
		return inv.usageError("--online-visible=true or --online-visible=false is required: choose whether the patient sees this consultation online")
	}
	visible, version := online.value, inv.uint("version")
	return act(ctx, inv, fmt.Sprintf("confirmed (visible to the patient online: %v)", visible),
		func(ctx context.Context, id uint64) (*apitype.Record, error) {
			return inv.client().Confirm(ctx, id, visible, version)
		})
}

// reason returns --reason, or reports that it is missing.
func (inv *invocation) reason() (string, bool) {
	r := strings.TrimSpace(inv.str("reason"))
	return r, r != ""
}

func runReject(ctx context.Context, inv *invocation) int {
	reason, ok := inv.reason()
	if !ok {
		return inv.usageError("--reason is required")
	}
	return act(ctx, inv, "rejected", func(ctx context.Context, id uint64) (*apitype.Record, error) {
		return inv.client().Reject(ctx, id, reason)
	})
}

func runRetry(ctx context.Context, inv *invocation) int {
	return act(ctx, inv, "sent back to be retried", func(ctx context.Context, id uint64) (*apitype.Record, error) {
		return inv.client().Retry(ctx, id)
	})
}

func runCancel(ctx context.Context, inv *invocation) int {
	reason, ok := inv.reason()
	if !ok {
		return inv.usageError("--reason is required")
	}
	return act(ctx, inv, "cancelled", func(ctx context.Context, id uint64) (*apitype.Record, error) {
		return inv.client().Cancel(ctx, id, reason)
	})
}

// runEnqueue queues FILE ("-": standard input) and prints the record's id once it is durable.
// A job already queued prints its record's id; with different content that is an error
// (the first version is kept).
func runEnqueue(ctx context.Context, inv *invocation) int {
	var doc io.Reader = inv.in
	if name := inv.pos[0]; name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return inv.fail(err)
		}
		defer f.Close()
		doc = f
	}
	res, err := inv.client().Enqueue(ctx, doc)
	if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, res)
	} else {
		fmt.Fprintln(inv.out, res.ID)
	}
	switch {
	case res.Conflict:
		return inv.fail(fmt.Errorf("job %s is already queued as record %d with different content; the first version is kept", res.JobID, res.ID))
	case !res.Created:
		fmt.Fprintf(inv.err, "wbagent: job %s was already queued as record %d\n", res.JobID, res.ID)
	}
	return exitOK
}
