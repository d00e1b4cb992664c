// Package status reports the service's state: the queue's counts, the conditions the
// service can know by itself (links, records waiting for people, unreadable records) with
// those reported on the condition board by the parts that watch the integration, and the
// overall state they add up to.
package status

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Codes of the conditions the service reports itself. Serialised: never change them.
const (
	CodeNoClinicianLinked    = "no-clinician-linked"
	CodeRelinkNeeded         = "relink-needed"
	CodeRecordsNeedAttention = "records-need-attention"
	CodeAwaitingConfirmation = "filings-awaiting-confirmation"
	CodeRecordsUnreadable    = "records-unreadable"
)

// Report is the service's state.
type Report struct {
	State      condition.Overall     `json:"state"`
	Counts     map[queue.State]int   `json:"counts"` // every state, zeros included
	Conditions []condition.Condition `json:"conditions"`
}

// Reporter builds reports. It is safe for concurrent use.
type Reporter struct {
	q     *queue.Queue
	links *link.Store
	board *condition.Board
}

// New returns a reporter over the queue, the link store and the condition board.
func New(q *queue.Queue, links *link.Store, board *condition.Board) *Reporter {
	return &Reporter{q: q, links: links, board: board}
}

// Report returns the current state.
func (r *Reporter) Report() (Report, error) {
	counts, err := r.q.Counts()
	if err != nil {
		return Report{}, fmt.Errorf("status: %w", err)
	}
	all := make(map[queue.State]int, len(queue.States))
	for _, s := range queue.States {
		all[s] = counts[s]
	}
	conds := append(r.own(all), r.board.All()...)
	condition.Sort(conds)
	return Report{
		State:      condition.Summarise(conds, all[queue.NeedsAttention]+all[queue.NeedsConfirmation]),
		Counts:     all,
		Conditions: conds,
	}, nil
}

// own returns the conditions the service knows by itself. Never nil.
func (r *Reporter) own(counts map[queue.State]int) []condition.Condition {
	conds := []condition.Condition{}
	accounts := r.links.Accounts()
	if len(accounts) == 0 {
		conds = append(conds, condition.Condition{
			Code: CodeNoClinicianLinked, Severity: condition.Warning, Owner: condition.Clinician,
			Title: "No clinician has linked their clinical system account on this PC",
			Fix: "Each clinician who files from this PC links once: open Writeback Agent and choose Link account " +
				"(or run: wbagent link), then sign in to the clinical system.",
		})
	}
	var relink []string
	for _, a := range accounts {
		if a.RelinkNeeded {
			relink = append(relink, clinicianName(a))
		}
	}
	if len(relink) > 0 {
		conds = append(conds, condition.Condition{
			Code: CodeRelinkNeeded, Severity: condition.Warning, Owner: condition.Clinician,
			Title: plural(len(relink), "clinician must", "clinicians must") + " sign in to the clinical system again",
			Fix: "The clinical system no longer accepts the sign-in of: " + strings.Join(relink, ", ") + ".\n" +
				"Each of them opens Writeback Agent and chooses Link account (or runs: wbagent link) and signs in again.",
		})
	}
	names := map[string]string{}
	for _, a := range accounts {
		names[a.ClinicalUserID] = clinicianName(a)
	}
	if n := counts[queue.NeedsAttention]; n > 0 {
		conds = append(conds, condition.Condition{
			Code: CodeRecordsNeedAttention, Severity: condition.Warning, Owner: condition.Clinician,
			Title: plural(n, "writeback needs", "writebacks need") + " attention",
			Fix: "Waiting: " + r.byClinician(queue.NeedsAttention, names) + ".\n" +
				"Each clinician opens Writeback Agent (or runs: wbagent queue list --state needs-attention), " +
				"follows the fix shown on each of theirs, then chooses Retry (wbagent retry ID).",
		})
	}
	if n := counts[queue.NeedsConfirmation]; n > 0 {
		conds = append(conds, condition.Condition{
			Code: CodeAwaitingConfirmation, Severity: condition.Info, Owner: condition.Clinician,
			Title: plural(n, "filing is", "filings are") + " waiting for the clinician's confirmation",
			Fix: "Waiting for: " + r.byClinician(queue.NeedsConfirmation, names) + ".\n" +
				"Each clinician reviews theirs in Writeback Agent and confirms or rejects them " +
				"(wbagent queue list --state needs-confirmation; wbagent confirm ID --online-visible=true|false).",
		})
	}
	if n := len(r.q.Unreadable()); n > 0 {
		conds = append(conds, condition.Condition{
			Code: CodeRecordsUnreadable, Severity: condition.Warning, Owner: condition.IT,
			Title: plural(n, "queued writeback cannot", "queued writebacks cannot") + " be decrypted",
			Fix: "Do not delete the data folder. Make a diagnostics bundle (wbagent diag --out diag.zip, as an administrator) " +
				"and send it to the Writeback Agent supplier; ask the online consultation platform to resend the affected writebacks.",
		})
	}
	return conds
}

// byClinician lists how many records in state s each clinician has, by name where linked
// (clinician ids and names are staff data, never patient data).
func (r *Reporter) byClinician(s queue.State, names map[string]string) string {
	perAuthor := r.q.AuthorCounts(s)
	authors := slices.Sorted(maps.Keys(perAuthor))
	parts := make([]string, 0, len(authors))
	for _, id := range authors {
		name := names[id]
		if name == "" {
			name = "clinical user " + id
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, perAuthor[id]))
	}
	return strings.Join(parts, "; ")
}

func clinicianName(a link.Account) string {
	if a.Name == "" {
		return a.ClinicalUserID
	}
	return fmt.Sprintf("%s (%s)", a.Name, a.ClinicalUserID)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
