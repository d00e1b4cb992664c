// Package condition describes what stands between the practice and working filing: each
// condition has a stable code, a severity, who fixes it, a plain-English title and the steps
// that fix it. Conditions never carry patient data; they are shown on every screen, logged,
// exported as metrics labels and put in diagnostics bundles.
//
// The overall state the tray shows (ok, attention, blocked, offline) is summarised from the
// conditions and the records waiting for a person.
package condition

import (
	"cmp"
	"slices"
)

// Severity says how much a condition matters. The values are serialised (local API, CLI
// --json, metrics labels): never change them.
type Severity string

const (
	// Info: worth knowing, nothing is wrong (filings waiting for confirmation).
	Info Severity = "info"
	// Warning: something needs a person's attention, but filing works.
	Warning Severity = "warning"
	// Blocking: filing does not work until it is fixed.
	Blocking Severity = "blocking"
)

// rank orders severities, most severe first.
func (s Severity) rank() int {
	switch s {
	case Blocking:
		return 0
	case Warning:
		return 1
	default:
		return 2
	}
}

// Owner says who can fix a condition. The values are serialised: never change them.
type Owner string

const (
	Clinician       Owner = "clinician"        // the clinician the records or the link belong to
	PracticeManager Owner = "practice-manager" // EMAS Manager settings, staff accounts
	IT              Owner = "it"               // the PC, the service, the network
)

// Text names who fixes a condition as people read it ("the practice manager"): the tray and
// the windows say "Who fixes it: " and this.
func (o Owner) Text() string {
	switch o {
	case Clinician:
		return "the clinician"
	case PracticeManager:
		return "the practice manager"
	case IT:
		return "IT"
	}
	return string(o)
}

// Condition is one thing that is wrong or worth knowing. Fix holds the steps, one per line.
type Condition struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Owner    Owner    `json:"owner"`
	Title    string   `json:"title"`
	Fix      string   `json:"fix"`
}

// Sort orders conditions most severe first, then by code, so lists and comparisons are stable.
func Sort(conds []Condition) {
	slices.SortStableFunc(conds, func(a, b Condition) int {
		if c := cmp.Compare(a.Severity.rank(), b.Severity.rank()); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
}

// Overall is the state of the agent at a glance. The values are serialised: never change
// them.
type Overall string

const (
	OK        Overall = "ok"        // filing works and nobody needs to act
	Attention Overall = "attention" // a warning, or records waiting for a person
	Blocked   Overall = "blocked"   // a blocking condition: filing does not work
	Offline   Overall = "offline"   // the service cannot be reached (decided by its clients)
)

// Summarise returns the overall state of a running service: blocked if any condition is
// blocking; attention if any is a warning or waiting records wait for a person (needing
// attention or confirmation); ok otherwise.
func Summarise(conds []Condition, waiting int) Overall {
	worst, _ := Worst(conds)
	switch {
	case worst == Blocking:
		return Blocked
	case worst == Warning || waiting > 0:
		return Attention
	}
	return OK
}

// Worst returns the most severe severity among conds, and false when there are none.
func Worst(conds []Condition) (Severity, bool) {
	if len(conds) == 0 {
		return "", false
	}
	worst := Info
	for _, c := range conds {
		if c.Severity.rank() < worst.rank() {
			worst = c.Severity
		}
	}
	return worst, true
}
