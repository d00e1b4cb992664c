package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/writeback-agent/wbagent/agent/link/signin"
)

// signInTimeout bounds how long link waits for the clinician to sign in in the browser.
const signInTimeout = 5 * time.Minute

// runLink signs the user in to the clinical system (in the browser, or with --username and
// --password for automated tests) and hands the sign-in to the service, which verifies it
// and links this OS user to the clinical user.
func runLink(ctx context.Context, inv *invocation) int {
	c := inv.client()
	reqCtx, cancel := withTimeout(ctx)
	st, err := c.LinkState(reqCtx)
	cancel()
	if err != nil {
		return inv.fail(err)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	username, password := inv.str("username"), inv.str("password")
	var res *signin.Result
	if username != "" {
		res, err = signin.Password(ctx, hc, st.Settings, username, password)
	} else {
		signCtx, cancel := context.WithTimeout(ctx, signInTimeout)
		defer cancel()
		res, err = signin.Browser(signCtx, hc, st.Settings, func(url string) error {
			fmt.Fprintf(inv.err, "Sign in to the clinical system in your browser. If it does not open, visit:\n%s\n", url)
			if err := signin.OpenBrowser(url); err != nil {
				fmt.Fprintln(inv.err, "wbagent: could not open the browser:", err)
			}
			return nil
		})
	}
	if err != nil {
		return inv.fail(err)
	}
	reqCtx, cancel = withTimeout(ctx)
	defer cancel()
	linked, err := c.Link(reqCtx, res.LinkRequest())
	if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, linked)
		return exitOK
	}
	l := linked.Link
	fmt.Fprintf(inv.out, "Linked %s to clinical user %s (%s).\n", l.OSUser, l.ClinicalUserID, l.ClinicalName)
	return exitOK
}

func runUnlink(ctx context.Context, inv *invocation) int {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	st, err := inv.client().Unlink(ctx, inv.str("user"))
	if err != nil {
		return inv.fail(err)
	}
	if inv.json {
		printJSON(inv.out, st)
		return exitOK
	}
	fmt.Fprintf(inv.out, "Unlinked %s from clinical user %s.\n", st.Link.OSUser, st.Link.ClinicalUserID)
	return exitOK
}
