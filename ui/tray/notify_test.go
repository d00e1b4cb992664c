package tray

import (
	"fmt"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/condition"
)

func notes(ns []Note) string {
	var out string
	for _, n := range ns {
		out += fmt.Sprintf("[%s] %s: %s\n", n.Kind, n.Title, n.Body)
	}
	return out
}

func expectNotes(t *testing.T, step string, got []Note, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: notes\n%s want %d: %q", step, notes(got), len(want), want)
	}
	for i := range want {
		if got[i].Body != want[i] {
			t.Errorf("%s: note %d body %q, want %q", step, i, got[i].Body, want[i])
		}
	}
}

func TestNotifyBlockingOnceWhenItAppearsAndOnceWhenItClears(t *testing.T) {
	var n Notifier
	at := now
	step := func(d time.Duration) time.Time { at = at.Add(d); return at }

	expectNotes(t, "calm start", n.Observe(snap(receptionist, nil), Prefs{}, at))
	got := n.Observe(snap(receptionist, []condition.Condition{notActivated, unreachable}), Prefs{}, step(time.Second))
	expectNotes(t, "blocked", got, notActivated.Title)
	if got[0].Kind != NoteBlocked || got[0].Title != "Writeback Agent: filing has stopped" {
		t.Errorf("note %+v", got[0])
	}
	expectNotes(t, "still blocked", n.Observe(snap(receptionist, []condition.Condition{notActivated}), Prefs{}, step(time.Second)))
	expectNotes(t, "offline says nothing", n.Observe(&Snapshot{}, Prefs{}, step(time.Second)))
	expectNotes(t, "back, still blocked", n.Observe(snap(receptionist, []condition.Condition{notActivated}), Prefs{}, step(time.Second)))
	got = n.Observe(snap(receptionist, nil), Prefs{}, step(time.Second))
	expectNotes(t, "cleared", got, "The problem that stopped filing has been fixed; waiting writebacks are being filed.")
	if got[0].Kind != NoteCleared {
		t.Errorf("note %+v", got[0])
	}

	// A second blocking problem within five minutes of the first note is held, then sent
	// once, up to date.
	expectNotes(t, "blocked again soon", n.Observe(snap(receptionist, []condition.Condition{sessionEnded}), Prefs{}, step(time.Minute)))
	due, ok := n.NextDue()
	if want := now.Add(time.Second); !ok || !due.Equal(want.Add(NoteInterval)) {
		t.Errorf("NextDue = %v, %v; want %v", due, ok, want.Add(NoteInterval))
	}
	expectNotes(t, "not due yet", n.Due(Prefs{}, step(time.Minute)))
	n.Observe(snap(receptionist, []condition.Condition{sessionEnded, notActivated}), Prefs{}, step(time.Second))
	expectNotes(t, "due", n.Due(Prefs{}, due), notActivated.Title+" (and 1 other problem)")
	if _, ok := n.NextDue(); ok {
		t.Error("something still held")
	}
}

func TestNotifyHeldNoteThatNoLongerAppliesIsDropped(t *testing.T) {
	var n Notifier
	n.Observe(snap(receptionist, []condition.Condition{notActivated}), Prefs{}, now)
	n.Observe(snap(receptionist, nil), Prefs{}, now.Add(time.Second))
	expectNotes(t, "blocked again", n.Observe(snap(receptionist, []condition.Condition{notActivated}), Prefs{}, now.Add(2*time.Second)))
	expectNotes(t, "cleared again", n.Observe(snap(receptionist, nil), Prefs{}, now.Add(3*time.Second)))
	// The user was last told filing works, and it does: the blip is not worth a note.
	expectNotes(t, "due", n.Due(Prefs{}, now.Add(NoteInterval+time.Minute)))
	if _, ok := n.NextDue(); ok {
		t.Error("something still held")
	}
}

func TestNotifyWaitingIsBatched(t *testing.T) {
	var n Notifier
	got := n.Observe(snap(clinician, nil, "mine:needs-confirmation", "mine:needs-confirmation", "other:needs-confirmation"), Prefs{}, now)
	expectNotes(t, "two waiting", got, "2 new filings are waiting for your confirmation")
	if got[0].Kind != NoteWaiting || got[0].Title != "Writeback Agent: filings to review" {
		t.Errorf("note %+v", got[0])
	}
	expectNotes(t, "same two", n.Observe(snap(clinician, nil, "mine:needs-confirmation", "mine:needs-confirmation"), Prefs{}, now.Add(time.Second)))
	// Records 3 and 4 arrive within five minutes: held, then counted together.
	expectNotes(t, "third", n.Observe(snap(clinician, nil, "mine:needs-confirmation", "mine:needs-confirmation", "mine:needs-confirmation"), Prefs{}, now.Add(time.Minute)))
	expectNotes(t, "fourth", n.Observe(snap(clinician, nil, "mine:needs-confirmation", "mine:needs-confirmation", "mine:needs-confirmation", "mine:needs-confirmation"), Prefs{}, now.Add(2*time.Minute)))
	expectNotes(t, "due", n.Due(Prefs{}, now.Add(NoteInterval)), "2 new filings are waiting for your confirmation (4 are waiting in all)")
	// Confirmed ones leave; nothing new: nothing to say.
	expectNotes(t, "confirmed", n.Observe(snap(clinician, nil, "mine:ready"), Prefs{}, now.Add(20*time.Minute)))
	expectNotes(t, "one more", n.Observe(snap(clinician, nil, "mine:ready", "mine:needs-attention", "mine:needs-confirmation"), Prefs{}, now.Add(21*time.Minute)),
		"1 new filing is waiting for your confirmation")
}

func TestNotifyMuted(t *testing.T) {
	var n Notifier
	muted := Prefs{Muted: true}
	expectNotes(t, "muted block", n.Observe(snap(clinician, []condition.Condition{notActivated}, "mine:needs-confirmation"), muted, now))
	if _, ok := n.NextDue(); ok {
		t.Error("muted notes are held")
	}
	// Unmuting brings no burst of what happened while muted; new things are told.
	expectNotes(t, "unmuted, nothing new", n.Observe(snap(clinician, []condition.Condition{notActivated}, "mine:needs-confirmation"), Prefs{}, now.Add(time.Minute)))
	// They were never told filing stopped, so they are not told it works again.
	expectNotes(t, "unmuted, new", n.Observe(snap(clinician, nil, "mine:needs-confirmation", "mine:needs-confirmation"), Prefs{}, now.Add(2*time.Minute)),
		"1 new filing is waiting for your confirmation (2 are waiting in all)")
}

func TestNotesCarryCountsAndTitlesOnly(t *testing.T) {
	// Records in the watch stream carry no patient data; the notes are built from
	// condition titles and counts alone, so a title is the only free text that can appear.
	var n Notifier
	s := snap(clinician, []condition.Condition{notActivated}, "mine:needs-confirmation")
	for id, r := range s.Records {
		r.JobID, r.ConsultationGUID, r.Author = "job-SECRET", "guid-SECRET", "author-SECRET"
		s.Records[id] = r
	}
	for _, note := range n.Observe(s, Prefs{}, now) {
		for _, text := range []string{note.Title, note.Body} {
			if containsAny(text, "SECRET") {
				t.Errorf("note shows record details: %q", text)
			}
		}
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		for i := 0; i+len(sub) <= len(s); i++ {
			if s[i:i+len(sub)] == sub {
				return true
			}
		}
	}
	return false
}
