package tray

import (
	"strings"
	"unicode/utf16"

	"github.com/writeback-agent/wbagent/assets"
)

// Status is the overall condition the tray icon shows.
type Status string

// The statuses the tray can show. Their values are the state names used by
// package assets.
const (
	// OK means outcomes are being filed normally.
	OK Status = assets.StateOK
	// Attention means filing goes on but something needs a person to look,
	// such as an outcome that could not be matched to a patient.
	Attention Status = assets.StateAttention
	// Blocked means filing has stopped, for example because the GP system
	// refuses the agent's credentials.
	Blocked Status = assets.StateBlocked
	// Offline means the tray cannot reach the service, so it knows nothing
	// about filing. It is also shown for any status it does not recognise.
	Offline Status = assets.StateOffline
)

// State is what the service tells the tray to show.
type State struct {
	Status Status
	// Title is a one-line summary for the status line of the menu, such as
	// "2 outcomes need a patient match". Empty means the status's default
	// wording.
	Title string
}

// View is how a State appears in the notification area.
type View struct {
	// Icon is the tray icon in the platform's format (see assets.TrayIcon).
	Icon []byte
	// Tooltip is shown when the pointer rests on the icon (Windows and
	// macOS; Linux AppIndicators have no tooltips).
	Tooltip string
	// Title is the text of the disabled status line at the top of the menu.
	Title string
}

// productName starts every tooltip, so the icon can be identified among
// the others in the notification area.
const productName = "Writeback Agent"

// maxTooltip is the longest tooltip, in UTF-16 code units, that Windows
// shows: its NOTIFYICONDATA buffer holds 128 units including the NUL.
const maxTooltip = 127

// maxTitle is the longest menu title, in characters, before it is cut short
// so the menu stays a sensible width.
const maxTitle = 80

// wording is the default text for each status.
var wording = map[Status]struct{ tooltip, title string }{
	OK:        {"filing normally", "Filing normally"},
	Attention: {"needs attention", "Needs attention"},
	Blocked:   {"filing is blocked", "Filing is blocked"},
	Offline:   {"not connected to the service", "Service not running"},
}

// ViewOf returns how s appears in the tray. It has no side effects. The
// tooltip is "Writeback Agent: " and the status's wording, followed on a
// second line by s.Title when one is given; the menu's status line is
// s.Title or, when that is empty, the status's default wording. An unknown
// status is shown as Offline.
func ViewOf(s State) View {
	status := s.Status
	words, ok := wording[status]
	if !ok {
		status = Offline
		words = wording[Offline]
	}
	tooltip := productName + ": " + words.tooltip
	title := oneLine(s.Title)
	if title == "" {
		title = words.title
	} else {
		tooltip += "\n" + title
	}
	return View{
		Icon:    assets.TrayIcon(string(status)),
		Tooltip: truncateUTF16(tooltip, maxTooltip),
		Title:   truncateRunes(title, maxTitle),
	}
}

// oneLine joins the lines of s with spaces and collapses runs of white
// space, as a menu item shows a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncateRunes cuts s to at most n characters, ending with "…" if cut.
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// truncateUTF16 cuts s to at most n UTF-16 code units, ending with "…" if
// cut, without splitting a surrogate pair.
func truncateUTF16(s string, n int) string {
	if len(utf16.Encode([]rune(s))) <= n {
		return s
	}
	units := 1 // for the ellipsis
	for i, r := range s {
		w := utf16.RuneLen(r)
		if w < 0 {
			w = 1 // invalid rune: encoded as U+FFFD
		}
		if units+w > n {
			return s[:i] + "…"
		}
		units += w
	}
	return s
}
