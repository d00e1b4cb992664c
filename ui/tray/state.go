package tray

import (
	"strings"
	"unicode/utf16"

	"github.com/writeback-agent/wbagent/assets"
)

// Status is the overall condition the tray icon shows.
type Status string

// The statuses the tray can show. Their values are the state names used by package assets.
const (
	// OK means writebacks are being filed and nothing needs this person.
	OK Status = assets.StateOK
	// Attention means filing goes on but something needs a person: a warning, or filings
	// waiting for this person's confirmation.
	Attention Status = assets.StateAttention
	// Blocked means filing has stopped until someone fixes a blocking condition.
	Blocked Status = assets.StateBlocked
	// Offline means the tray cannot reach the service, so it knows nothing about filing.
	// It is also shown for any status it does not recognise.
	Offline Status = assets.StateOffline
)

// productName starts every tooltip, so the icon can be identified among the others.
const productName = "Writeback Agent"

// maxTooltip is the longest tooltip, in UTF-16 code units, that Windows shows: its
// NOTIFYICONDATA buffer holds 128 units including the NUL.
const maxTooltip = 127

// maxTitle is the longest menu item, in characters, before it is cut short so the menu
// stays a sensible width.
const maxTitle = 100

// oneLine joins the lines of s with spaces and collapses runs of white space, as a menu
// item shows a single line.
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

// truncateUTF16 cuts s to at most n UTF-16 code units, ending with "…" if cut, without
// splitting a surrogate pair.
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
