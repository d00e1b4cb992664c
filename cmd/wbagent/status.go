package main

import (
	"context"
	"fmt"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/status"
)

// runStatus: the overall state. When the service is not running it still prints a status
// (state offline) and exits 1.
func runStatus(ctx context.Context, inv *invocation) int {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	st, err := inv.client().Status(ctx)
	code := exitOK
	if nr, ok := notRunning(err); ok {
		st, code = client.OfflineStatus(nr), inv.fail(err)
	} else if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, st)
		return code
	}
	printStatus(inv, st)
	return code
}

func printStatus(inv *invocation, st *apitype.Status) {
	w := inv.out
	fmt.Fprintf(w, "Writeback Agent: %s", st.State)
	if st.Version != "" {
		fmt.Fprintf(w, " (service %s)", st.Version)
	}
	fmt.Fprintln(w)
	if c := st.Caller; c != nil {
		you := c.OSUser
		if c.Admin {
			you += " (administrator)"
		}
		switch {
		case c.ClinicalUserID == "":
			you += ", not linked to the clinical system"
		case c.RelinkNeeded:
			you += fmt.Sprintf(", linked to clinical user %s but must sign in again (wbagent link)", c.ClinicalUserID)
		default:
			you += fmt.Sprintf(", linked to clinical user %s (%s)", c.ClinicalUserID, c.ClinicalName)
		}
		fmt.Fprintln(w, "You:", you)
	}
	printCounts(w, st.Counts)
	if len(st.Conditions) == 0 {
		fmt.Fprintln(w, "Conditions: none")
		return
	}
	fmt.Fprintln(w, "Conditions:")
	for _, c := range st.Conditions {
		printCondition(w, c)
	}
}

// Doctor's exit codes.
const (
	doctorOK       = 0
	doctorWarnings = 1
	doctorBlocking = 2
)

// checks are the service-side checks doctor lists as passed when their condition is absent.
var checks = []struct{ code, ok string }{
	{status.CodeNoClinicianLinked, "At least one clinician is linked on this PC"},
	{status.CodeRelinkNeeded, "The clinical system accepts every linked clinician's sign-in"},
	{status.CodeRecordsUnreadable, "Every queued writeback can be decrypted"},
	{status.CodeRecordsNeedAttention, "No writeback needs attention"},
}

// runDoctor prints the checklist: what passed, and each condition with its fix. It exits 0
// when all is well, 1 with warnings, 2 with a blocking condition (the service not running
// is one).
func runDoctor(ctx context.Context, inv *invocation) int {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	w := inv.out
	st, err := inv.client().Status(ctx)
	if nr, ok := notRunning(err); ok {
		inv.fail(err)
		st = client.OfflineStatus(nr)
	} else if err != nil {
		inv.fail(err)
		return doctorBlocking
	} else {
		fmt.Fprintf(w, "[ok] The Writeback Agent service is running (version %s)\n", st.Version)
	}
	active := map[string]bool{}
	for _, c := range st.Conditions {
		active[c.Code] = true
	}
	if st.State != condition.Offline {
		for _, c := range checks {
			if !active[c.code] {
				fmt.Fprintf(w, "[ok] %s\n", c.ok)
			}
		}
	}
	for _, c := range st.Conditions {
		printCondition(w, c)
	}
	worst, _ := condition.Worst(st.Conditions)
	switch worst {
	case condition.Blocking:
		fmt.Fprintln(w, "Result: blocked — filing does not work until the blocking conditions are fixed.")
		return doctorBlocking
	case condition.Warning:
		fmt.Fprintln(w, "Result: warnings — filing works, but someone needs to act.")
		return doctorWarnings
	}
	fmt.Fprintln(w, "Result: all good.")
	return doctorOK
}
