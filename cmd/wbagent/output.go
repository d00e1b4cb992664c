package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// notRunning reports whether err says the service is not running.
func notRunning(err error) (*client.NotRunningError, bool) {
	var nr *client.NotRunningError
	return nr, errors.As(err, &nr)
}

func printCounts(w io.Writer, counts map[queue.State]int) {
	parts := make([]string, 0, len(queue.States))
	for _, s := range queue.States {
		parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
	}
	fmt.Fprintln(w, "Queue:", strings.Join(parts, ", "))
}

// printCondition writes a condition and its fix, indented.
func printCondition(w io.Writer, c condition.Condition) {
	fmt.Fprintf(w, "  [%s] %s (%s; fixed by: %s)\n", c.Severity, c.Title, c.Code, c.Owner)
	for _, line := range strings.Split(c.Fix, "\n") {
		fmt.Fprintf(w, "      %s\n", line)
	}
}

func printRecords(w io.Writer, recs []apitype.Record) {
	if len(recs) == 0 {
		fmt.Fprintln(w, "No writebacks.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tJOB\tAUTHOR\tREASON\tUPDATED")
	for _, r := range recs {
		author := r.Author
		if r.Mine {
			author += " (you)"
		}
		reason := ""
		if r.Reason != nil {
			reason = r.Reason.Code
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.JobID, author, reason, r.UpdatedAt.Local().Format(time.DateTime))
	}
	tw.Flush()
}

func printRecord(w io.Writer, d *apitype.RecordDetail) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("Record", fmt.Sprint(d.ID))
	row("Job", d.JobID)
	row("State", string(d.State))
	author := d.Author
	if d.Mine {
		author += " (you)"
	}
	row("Author", author)
	if d.Reason != nil {
		row("Reason", d.Reason.Code)
		row("What is wrong", d.Reason.Text)
		row("Fix", d.Reason.Fix)
	}
	row("Consultation GUID", d.ConsultationGUID)
	if d.OutcomeUnknown {
		row("Note", queue.OutcomeUnknownFix)
	}
	row("Created", d.CreatedAt.Local().Format(time.DateTime))
	row("Updated", d.UpdatedAt.Local().Format(time.DateTime))
	row("Version", fmt.Sprint(d.Version))
	if c := d.Content; c != nil {
		p := c.Patient
		row("Patient", fmt.Sprintf("%s, %s (NHS %s, born %s, identity verified: %v)", p.FamilyName, p.GivenNames, p.NHSNumber, p.DateOfBirth, p.IdentityVerified))
		for _, code := range c.Codes {
			row("Code", fmt.Sprintf("%s %s", code.Code, code.Display))
		}
		for _, a := range c.Attachments {
			row("Attachment", fmt.Sprintf("%s (%s, %d bytes)", a.FileName, a.MediaType, a.Size))
		}
	}
	tw.Flush()
	if c := d.Content; c != nil {
		fmt.Fprintf(w, "Summary:\n%s\n", indent(c.Summary))
	} else if d.Wiped {
		fmt.Fprintln(w, "The patient content was removed by retention.")
	} else if !d.Mine {
		fmt.Fprintln(w, "The patient content is shown only to the clinician this writeback belongs to.")
	}
	if len(d.Audit) > 0 {
		fmt.Fprintln(w, "Audit trail:")
		for _, e := range d.Audit {
			who := e.Actor.OSUser
			if who == "" {
				who = e.Actor.Component
			}
			move := ""
			switch {
			case e.From != "" && e.To != "":
				move = fmt.Sprintf(" (%s → %s)", e.From, e.To)
			case e.To != "":
				move = fmt.Sprintf(" (→ %s)", e.To)
			}
			fmt.Fprintf(w, "  %s  %s%s by %s %s\n", e.At.Local().Format(time.DateTime), e.Action, move, who, e.Detail)
		}
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
