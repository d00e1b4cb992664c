package main

import (
	"context"
	"fmt"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
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
