package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/status"
	"github.com/writeback-agent/wbagent/agent/watch"
)

// Doctor's exit codes.
const (
	doctorOK       = 0
	doctorWarnings = 1
	doctorBlocking = 2
)

// probeWait bounds doctor's wait for the service's probe (the service bounds it at 30 s).
const probeWait = 45 * time.Second

// progressAfter is when doctor says it is still checking, then every progressEvery.
const (
	progressAfter = 2 * time.Second
	progressEvery = 5 * time.Second
)

// checks are the service-side checks doctor lists as passed when their condition is absent.
var checks = []struct{ code, ok string }{
	{status.CodeNoClinicianLinked, "At least one clinician is linked on this PC"},
	{status.CodeRecordsUnreadable, "Every queued writeback can be decrypted"},
	{status.CodeRecordsNeedAttention, "No writeback needs attention"},
}

// runDoctor asks the service to probe the integration now (every linked clinician, the
// platform) and prints the checklist from those fresh facts: what passed, what failed, and
// each condition with its fix. An [ok] line is printed only where no condition listed says
// otherwise. It exits 0 when all is well, 1 with warnings (or a check that did not answer),
// 2 with a blocking condition (the service not running is one).
func runDoctor(ctx context.Context, inv *invocation) int {
	w := inv.out
	pctx, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	res, err := probeWithProgress(pctx, inv)
	var st *apitype.Status
	stale := false
	switch nr, ok := notRunning(err); {
	case ok:
		inv.fail(err)
		st = client.OfflineStatus(nr)
	case err != nil:
		// An older service without the probe, or one that could not probe: its last view,
		// said to be so.
		sctx, scancel := withTimeout(ctx)
		defer scancel()
		var serr error
		st, serr = inv.client().Status(sctx)
		if serr != nil {
			inv.fail(serr)
			return doctorBlocking
		}
		stale = true
		fmt.Fprintf(w, "[!!] The service could not check the integration now (%s): what follows is its last view, not a fresh check\n", oneLine(err.Error()))
	default:
		st = &res.Status
	}
	if st.State != condition.Offline {
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
	failed := 0
	if res != nil {
		for _, c := range res.Checks {
			switch {
			case c.OK && !contradicted(c, st.Conditions):
				fmt.Fprintf(w, "[ok] %s: works (checked now)\n", c.Title)
			case c.OK:
				// The check passed now, but a condition listed below still stands (filing
				// found otherwise): the condition is what counts.
				fmt.Fprintf(w, "[!!] %s: answered now, but see the conditions below\n", c.Title)
			default:
				failed++
				fmt.Fprintf(w, "[!!] %s: %s (%s)\n", c.Title, c.Detail, c.Code)
			}
		}
	}
	for _, c := range st.Conditions {
		printCondition(w, c)
	}
	worst, _ := condition.Worst(st.Conditions)
	switch {
	case worst == condition.Blocking:
		fmt.Fprintln(w, "Result: blocked — filing does not work until the blocking conditions are fixed.")
		return doctorBlocking
	case worst == condition.Warning:
		fmt.Fprintln(w, "Result: warnings — filing works, but someone needs to act.")
		return doctorWarnings
	case failed > 0 || stale || (res != nil && res.Incomplete):
		fmt.Fprintln(w, "Result: not confirmed — a check failed or did not answer; run doctor again in a minute.")
		return doctorWarnings
	}
	fmt.Fprintln(w, "Result: all good.")
	return doctorOK
}

// probeWithProgress asks for the probe, saying on stderr that it is still checking when it
// takes a while.
func probeWithProgress(ctx context.Context, inv *invocation) (*apitype.ProbeResult, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		start := time.Now()
		t := time.NewTimer(progressAfter)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(inv.err, "Checking every linked clinician and the platform now… (%ds)\n", int(time.Since(start).Seconds()))
				t.Reset(progressEvery)
			}
		}
	}()
	res, err := inv.client().Probe(ctx)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// contradicted reports whether a condition listed says otherwise than a check that
// passed: a condition of the platform for the platform's check; for a clinician's check, a
// condition of the whole clinical system, or one that names the clinician.
func contradicted(c apitype.ProbeCheck, conds []condition.Condition) bool {
	platform := c.Subject == "platform"
	id := strings.TrimPrefix(c.Subject, "clinician:")
	for _, k := range conds {
		if k.Severity == condition.Info {
			continue
		}
		switch {
		case platform:
			if strings.HasPrefix(k.Code, "platform-") || k.Code == "source-not-enrolled" {
				return true
			}
		case slices.Contains(watch.SystemCodes, k.Code):
			return true
		case (k.Code == status.CodeRelinkNeeded || slices.Contains(watch.Codes, k.Code)) &&
			(strings.Contains(k.Fix, id) || strings.Contains(k.Title, id)):
			return true
		}
	}
	return false
}
