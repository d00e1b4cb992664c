package tray

import (
	"maps"
	"slices"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
)

// NoteKind says what a notification is about. Each kind is rate-limited on its own.
type NoteKind string

// The kinds of notification.
const (
	NoteBlocked NoteKind = "blocked" // a blocking condition appeared
	NoteCleared NoteKind = "cleared" // the last blocking condition cleared
	NoteWaiting NoteKind = "waiting" // new filings wait for this caller's confirmation
)

// NoteInterval is the least time between two notifications of the same kind.
const NoteInterval = 5 * time.Minute

// Note is one desktop notification. It holds counts and condition titles only: never
// patient data.
type Note struct {
	Kind  NoteKind
	Title string
	Body  string
}

// Notifier decides when to notify, from the Snapshots it is shown in turn. A notification
// that comes too soon after the last of its kind is held and sent (brought up to date) when
// the interval has passed, if it still applies: call Due at NextDue. "Filing works again"
// is said only to someone who was told it had stopped. While the user has muted notifications the
// Notifier keeps track but returns nothing, so unmuting does not bring a burst of old news.
// It is not safe for concurrent use.
type Notifier struct {
	// Interval overrides NoteInterval when not zero (tests).
	Interval time.Duration

	started  bool
	blocking map[string]string // code → title of the blocking conditions last seen
	waiting  map[uint64]bool   // the caller's records seen waiting for confirmation
	newWait  int               // records waiting that no notification has counted yet
	last     map[NoteKind]time.Time
	held     map[NoteKind]bool
	// toldBlocked: the last blocked-or-cleared note this user saw said filing had stopped.
	toldBlocked bool
}

func (n *Notifier) interval() time.Duration {
	if n.Interval > 0 {
		return n.Interval
	}
	return NoteInterval
}

// Observe takes the latest Snapshot and returns the notifications to show now. A
// disconnected Snapshot changes nothing: the Notifier remembers what it last saw, so a
// service restart does not repeat notifications.
func (n *Notifier) Observe(s *Snapshot, p Prefs, now time.Time) []Note {
	if !s.Connected {
		return nil
	}
	if !n.started {
		n.started = true
		n.blocking, n.waiting = map[string]string{}, map[uint64]bool{}
		n.last, n.held = map[NoteKind]time.Time{}, map[NoteKind]bool{}
	}
	blocking := map[string]string{}
	for _, c := range s.Status.Conditions {
		if c.Severity == condition.Blocking {
			blocking[c.Code] = oneLine(c.Title)
		}
	}
	appeared := false
	for code := range blocking {
		if _, ok := n.blocking[code]; !ok {
			appeared = true
		}
	}
	cleared := len(blocking) == 0 && len(n.blocking) > 0
	n.blocking = blocking
	if appeared {
		n.held[NoteBlocked], n.held[NoteCleared] = true, false
	}
	if cleared {
		n.held[NoteCleared], n.held[NoteBlocked] = true, false
	}

	ids := s.mineWaiting()
	current := map[uint64]bool{}
	for _, id := range ids {
		current[id] = true
		if !n.waiting[id] {
			n.newWait++
		}
	}
	n.waiting = current
	if n.newWait > 0 {
		n.held[NoteWaiting] = true
	}
	return n.Due(p, now)
}

// Due returns the held notifications whose interval has passed, brought up to date.
func (n *Notifier) Due(p Prefs, now time.Time) []Note {
	if !n.started {
		return nil
	}
	var notes []Note
	for _, kind := range []NoteKind{NoteBlocked, NoteCleared, NoteWaiting} {
		if !n.held[kind] {
			continue
		}
		if last, ok := n.last[kind]; ok && now.Sub(last) < n.interval() {
			continue
		}
		n.held[kind] = false
		note, ok := n.note(kind)
		if !ok || p.Muted {
			continue
		}
		n.last[kind] = now
		switch kind {
		case NoteBlocked:
			n.toldBlocked = true
		case NoteCleared:
			n.toldBlocked = false
		}
		notes = append(notes, note)
	}
	return notes
}

// NextDue returns when Due next has something to send, if anything is held.
func (n *Notifier) NextDue() (time.Time, bool) {
	var next time.Time
	for kind, held := range n.held {
		if !held {
			continue
		}
		at := n.last[kind].Add(n.interval())
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// note returns the notification of kind for what was seen last, and false if it no longer
// applies (the problem cleared, or nothing new waits).
func (n *Notifier) note(kind NoteKind) (Note, bool) {
	switch kind {
	case NoteBlocked:
		if len(n.blocking) == 0 {
			return Note{}, false
		}
		body := sortedTitles(n.blocking)[0]
		if len(n.blocking) > 1 {
			body += " (and " + plural(len(n.blocking)-1, "other problem", "other problems") + ")"
		}
		return Note{Kind: kind, Title: "Writeback Agent: filing has stopped", Body: truncateRunes(body, 200)}, true
	case NoteCleared:
		if len(n.blocking) > 0 || !n.toldBlocked {
			return Note{}, false
		}
		return Note{Kind: kind, Title: "Writeback Agent: filing works again",
			Body: "The problem that stopped filing has been fixed; waiting writebacks are being filed."}, true
	case NoteWaiting:
		count := n.newWait
		n.newWait = 0
		if count == 0 || len(n.waiting) == 0 {
			return Note{}, false
		}
		body := plural(count, "new filing is", "new filings are") + " waiting for your confirmation"
		if len(n.waiting) > count {
			body += " (" + plural(len(n.waiting), "is", "are") + " waiting in all)"
		}
		return Note{Kind: kind, Title: "Writeback Agent: filings to review", Body: body}, true
	}
	return Note{}, false
}

// sortedTitles returns the titles in byCode in the order of their codes, for a stable choice.
func sortedTitles(byCode map[string]string) []string {
	var titles []string
	for _, code := range slices.Sorted(maps.Keys(byCode)) {
		titles = append(titles, byCode[code])
	}
	return titles
}
