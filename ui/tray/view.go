package tray

import (
	"fmt"
	"strings"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/status"
	"github.com/writeback-agent/wbagent/assets"
)

// Window names a wbagent-ui window (`wbagent-ui WINDOW`). Serialised as a command-line
// argument: never change a value.
type Window string

// The windows the tray opens.
const (
	WindowReview    Window = "review"    // the caller's filings waiting for confirmation
	WindowAttention Window = "attention" // the caller's records that need attention
	WindowProblems  Window = "problems"  // the conditions and the steps that fix them
	WindowAccount   Window = "account"   // the caller's link to the clinical system
	WindowAbout     Window = "about"
)

// ActionKind says what choosing a menu item does.
type ActionKind int

// The actions.
const (
	// ActNone: nothing (a status line).
	ActNone ActionKind = iota
	// ActOpen starts `wbagent-ui Window` as a separate process.
	ActOpen
	// ActLink starts the clinical system sign-in in the user's browser, as `wbagent link`
	// does, and hands the result to the service.
	ActLink
	// ActToggleMute turns this user's notifications off or on, and keeps the choice.
	ActToggleMute
	// ActQuit removes the tray icon; the service keeps filing.
	ActQuit
)

// Action is what choosing an item does.
type Action struct {
	Kind   ActionKind
	Window Window // for ActOpen
}

// Section groups menu items. The shell shows them in this order with a separator before
// SectionFooter.
type Section int

// The sections.
const (
	SectionStatus  Section = iota // disabled lines: the state, the last filing
	SectionActions                // what this person can do now (may be empty)
	SectionFooter                 // mute, about, quit: always present
)

// Item is one menu item.
type Item struct {
	// ID is stable across Views for the same item ("status", "review", "cond:CODE", …).
	ID       string
	Section  Section
	Title    string
	Tooltip  string
	Enabled  bool
	Checkbox bool // shown with a tick box; Checked says whether it is ticked
	Checked  bool
	Action   Action
}

// View is everything the tray shows for one Snapshot.
type View struct {
	Status  Status
	Icon    []byte // in the platform's format (assets.TrayIcon)
	Tooltip string // at most 127 UTF-16 units (Windows' limit)
	Items   []Item
}

// Prefs are the tray's per-user preferences.
type Prefs struct {
	// Muted turns off this user's desktop notifications.
	Muted bool `json:"muted"`
}

// maxConditionItems is how many conditions the menu lists before "More problems…".
const maxConditionItems = 5

// Texts the tests and the docs quote.
const (
	TooltipOffline = "Writeback Agent service is not running — tell IT"
	titleOffline   = "Service not running — tell IT"
	titleNormal    = "Filing normally"
	titleQuit      = "Quit tray (the service keeps filing)"
)

// Build returns what the tray shows for s and p. now gives the day and time zone for "Last
// filed". It has no side effects.
func Build(s *Snapshot, p Prefs, now time.Time) View {
	footer := []Item{
		{ID: "mute", Section: SectionFooter, Title: "Mute notifications", Enabled: true, Checkbox: true, Checked: p.Muted,
			Tooltip: "Stop desktop notifications for you on this PC (the icon still changes)",
			Action:  Action{Kind: ActToggleMute}},
		{ID: "about", Section: SectionFooter, Title: "About Writeback Agent", Enabled: true,
			Action: Action{Kind: ActOpen, Window: WindowAbout}},
		{ID: "quit", Section: SectionFooter, Title: titleQuit, Enabled: true,
			Tooltip: "Remove this icon for you; the Writeback Agent service carries on filing",
			Action:  Action{Kind: ActQuit}},
	}
	if !s.Connected {
		return View{
			Status:  Offline,
			Icon:    assets.TrayIcon(string(Offline)),
			Tooltip: TooltipOffline,
			Items: append([]Item{{ID: "status", Section: SectionStatus, Title: titleOffline,
				Tooltip: "The tray reconnects by itself when the service is back"}}, footer...),
		}
	}

	st := s.Status
	caller := st.Caller
	linked := caller != nil && caller.ClinicalUserID != ""
	relink := caller != nil && caller.RelinkNeeded
	admin := caller != nil && caller.Admin
	confirm, attention := s.Mine()

	// The icon is the service's state as it concerns this person: filings waiting for
	// another clinician's confirmation do not turn a receptionist's icon amber.
	var problems []condition.Condition // warnings and blocking conditions, most severe first
	for _, c := range st.Conditions {
		if c.Severity == condition.Warning || c.Severity == condition.Blocking {
			problems = append(problems, c)
		}
	}
	condition.Sort(problems)
	icon := Status(condition.Summarise(problems, confirm+attention))
	if st.State == condition.Blocked {
		icon = Blocked // never calmer than the service itself says
	}

	// Filings waiting for this person are their work, not a fault: filing is still normal.
	statusLine, summary := titleNormal, "filing normally"
	switch {
	case icon == Blocked:
		summary = "filing has stopped"
		statusLine = "Filing has stopped"
	case icon == Attention && (len(problems) > 0 || st.State == condition.Attention && confirm+attention == 0):
		summary = "needs attention"
		statusLine = "Something needs attention"
	}
	// The status line answers "does filing work?"; the problems follow it as items, most
	// severe first, each with who fixes it, so no title is shown twice.
	status := Item{ID: "status", Section: SectionStatus, Title: truncateRunes(statusLine, maxTitle)}
	if len(problems) > 0 || icon == Blocked {
		// Enabled, so that it reads in full contrast rather than greyed out, and opens the
		// problems with their steps.
		status.Enabled, status.Action = true, Action{Kind: ActOpen, Window: WindowProblems}
		status.Tooltip = "Opens the problems and the steps that fix them"
	}
	items := []Item{status}
	if !st.LastFiledAt.IsZero() {
		items = append(items, Item{ID: "last-filed", Section: SectionStatus, Title: "Last filed " + when(st.LastFiledAt, now)})
	}

	if confirm > 0 {
		items = append(items, Item{ID: "review", Section: SectionActions, Enabled: true,
			Title:  "Review " + plural(confirm, "filing", "filings") + " waiting for you…",
			Action: Action{Kind: ActOpen, Window: WindowReview}})
	}
	if attention > 0 {
		verb := "need"
		if attention == 1 {
			verb = "needs"
		}
		items = append(items, Item{ID: "attention", Section: SectionActions, Enabled: true,
			Title:  fmt.Sprintf("%d of yours %s attention…", attention, verb),
			Action: Action{Kind: ActOpen, Window: WindowAttention}})
	}
	type listedProblem struct {
		c     condition.Condition
		label string
		mine  bool
	}
	var listable []listedProblem
	for _, c := range problems {
		label, mine := ownerLabel(c, linked, relink, admin, attention)
		if label != "" { // "" : already offered above
			listable = append(listable, listedProblem{c, label, mine})
		}
	}
	for i, p := range listable {
		c, label, mine := p.c, p.label, p.mine
		if i == maxConditionItems {
			items = append(items, Item{ID: "more", Section: SectionActions, Enabled: true,
				Title:  fmt.Sprintf("More problems (%d)…", len(listable)-i),
				Action: Action{Kind: ActOpen, Window: WindowProblems}})
			break
		}
		tip := "Who fixes it: " + c.Owner.Text() + ". Opens the steps."
		if mine {
			tip = "You can fix this: opens the steps."
		}
		items = append(items, Item{ID: "cond:" + c.Code, Section: SectionActions, Enabled: true,
			Title:   opens(label + oneLine(c.Title)),
			Tooltip: tip,
			Action:  Action{Kind: ActOpen, Window: WindowProblems}})
	}
	switch {
	case caller != nil && !linked:
		items = append(items, Item{ID: "link", Section: SectionActions, Enabled: true, Title: "Clinicians: link my EMIS account…",
			Tooltip: "Clinicians: sign in to EMIS once so the agent can file your consultations",
			Action:  Action{Kind: ActLink}})
	case relink:
		items = append(items, Item{ID: "link", Section: SectionActions, Enabled: true, Title: "Sign in again…",
			Tooltip: "EMIS no longer accepts your sign-in: sign in again so your filings continue",
			Action:  Action{Kind: ActLink}})
	}

	tooltip := productName + ": " + summary
	if len(problems) > 0 {
		tooltip += "\n" + oneLine(problems[0].Title)
	}
	if confirm > 0 {
		tooltip += "\n" + plural(confirm, "filing waits", "filings wait") + " for you"
	}
	if attention > 0 {
		tooltip += "\n" + plural(attention, "of yours needs", "of yours need") + " attention"
	}
	return View{
		Status:  icon,
		Icon:    assets.TrayIcon(string(icon)),
		Tooltip: truncateUTF16(tooltip, maxTooltip),
		Items:   append(items, footer...),
	}
}

// ownerLabel returns how a problem is introduced in the menu — "Fix: " when this person
// could be the one to fix it, the owner's name otherwise — and whether it is theirs. It
// returns "" for a problem another item already offers to this person.
func ownerLabel(c condition.Condition, linked, relink, admin bool, attention int) (string, bool) {
	switch c.Owner {
	case condition.Clinician:
		switch c.Code {
		case status.CodeNoClinicianLinked:
			if !linked {
				return "", false // "Link my EMIS account…" is the fix
			}
		case status.CodeRelinkNeeded:
			if relink {
				return "", false // "Sign in again…" is the fix
			}
			return "Clinicians: ", false
		case status.CodeRecordsNeedAttention:
			if attention > 0 {
				return "", false // "N of yours need attention…"
			}
			return "Clinicians: ", false
		}
		if linked {
			return "Fix: ", true
		}
		return "Clinicians: ", false
	case condition.IT:
		if admin {
			return "Fix: ", true
		}
		return "IT: ", false
	default: // the practice manager, or an owner this version does not know
		return "Practice manager: ", false
	}
}

// opens returns the title of an item that opens a window: cut to fit, ending with one "…".
func opens(title string) string {
	r := []rune(strings.TrimSuffix(title, "…"))
	return string(r[:min(len(r), maxTitle-1)]) + "…"
}

// when says when t was, as briefly as is clear on now's day: "14:32", "yesterday 14:32",
// "3 Dec 14:32", "3 Dec 2025 14:32".
func when(t, now time.Time) string {
	t = t.In(now.Location())
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	switch {
	case !t.Before(today):
		return t.Format("15:04")
	case !t.Before(today.AddDate(0, 0, -1)):
		return "yesterday " + t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("2 Jan 15:04")
	}
	return t.Format("2 Jan 2006 15:04")
}

// plural returns "1 one" or "n many".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
