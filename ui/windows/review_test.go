package windows

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// openReview opens the review window on f and waits for its first state.
func openReview(t *testing.T, f *fakeService) (*Review, *fakeStream) {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir()) // the window clears its stale copies there
	fastReconnect(t)
	a := test.NewTempApp(t)
	var r *Review
	onUI(func() {
		r = NewReview(a, f, ReviewOptions{Now: func() time.Time { return t0.Add(2 * time.Hour) }})
		r.Window().Show()
	})
	t.Cleanup(r.Window().Close) // not under onUI: closing waits for the stream's follower
	s := f.stream(t)
	eventually(t, "the first state", func() bool { return r.loaded })
	return r, s
}

// selectFirst selects the first row and waits for its review (with the match) to load.
func selectAndLoad(t *testing.T, r *Review, i int) {
	t.Helper()
	onUI(func() { r.list.Select(i) })
	eventually(t, "the writeback to load", func() bool { return r.shown != nil && r.shown.ID == r.records[i].ID })
}

func key(r *Review, name fyne.KeyName) {
	onUI(func() { r.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: name}) })
}

func typeRune(r *Review, c rune) {
	onUI(func() { r.win.Canvas().OnTypedRune()(c) })
}

func ctrlEnter(r *Review) {
	onUI(func() {
		r.win.Canvas().(fyne.Shortcutable).TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	})
}

func TestReviewListsMineNewestFirstWithThePatient(t *testing.T) {
	f := newFake()
	f.add(1, "Older", 0)
	f.add(2, "O'Neill", 10)
	other := f.add(3, "Someone", 20)
	other.Mine = false // another clinician's: not listed
	r, _ := openReview(t, f)

	eventually(t, "two rows", func() bool { return len(r.records) == 2 })
	if r.records[0].ID != 2 || r.records[1].ID != 1 {
		t.Errorf("order %d, %d; want newest first (2, 1)", r.records[0].ID, r.records[1].ID)
	}
	eventually(t, "the row's patient", func() bool {
		return strings.Contains(drawn(r.list), "O'NEILL, Siobhan   943 476 5919") &&
			strings.Contains(drawn(r.list), "29/02/1980 (46 years)") && strings.Contains(drawn(r.list), "Headaches for three weeks.")
	})
	if got := drawn(r.heading); got != "2 filings waiting for you" {
		t.Errorf("heading %q", got)
	}
}

func TestConfirmNeedsAVisibilityChoiceAndSendsItWithTheShownVersion(t *testing.T) {
	for _, tc := range []struct {
		key  rune
		want string
	}{{'v', "pfsVisible=true"}, {'N', "pfsVisible=false"}} {
		t.Run(string(tc.key), func(t *testing.T) {
			f := newFake()
			f.add(1, "O'Neill", 0)
			r, _ := openReview(t, f)
			selectAndLoad(t, r, 0)

			if !r.confirmBtn.Disabled() || r.radio.Selected != "" {
				t.Fatalf("before a choice: confirm disabled %v, radio %q; want disabled and nothing chosen", r.confirmBtn.Disabled(), r.radio.Selected)
			}
			ctrlEnter(r) // refused: no choice yet
			time.Sleep(20 * time.Millisecond)
			if f.sawCall("Confirm") {
				t.Fatal("Ctrl+Enter confirmed without a visibility choice")
			}
			typeRune(r, tc.key)
			if r.confirmBtn.Disabled() {
				t.Fatal("confirm still disabled after the choice")
			}
			ctrlEnter(r)
			want := "Confirm 1 " + tc.want + " version=3"
			eventually(t, want, func() bool { return f.sawCall(want) })
		})
	}
}

func TestConfirmTappedWithTheRadio(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	r, _ := openReview(t, f)
	selectAndLoad(t, r, 0)
	onUI(func() { r.radio.SetSelected(VisibleNo) })
	onUI(func() { test.Tap(r.confirmBtn) })
	eventually(t, "the confirmation", func() bool { return f.sawCall("Confirm 1 pfsVisible=false version=3") })
	eventually(t, "the notice", func() bool {
		return strings.Contains(drawn(r.win.Content()), "Confirmed O'NEILL, Siobhan (not visible online): it is being filed.")
	})
}

func TestVersionConflictIsShownWithTheNewVersion(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	r, _ := openReview(t, f)
	selectAndLoad(t, r, 0)
	f.confirm = func(id uint64, pfs bool, version uint64) (*apitype.Record, error) {
		f.mu.Lock()
		f.records[id].Version = 5
		f.mu.Unlock()
		return nil, &client.APIError{Status: 409, Code: apitype.CodeConflict,
			Message: "record 1: cannot confirm: the record changed since it was shown (version 3, now 5): review it again"}
	}
	typeRune(r, 'v')
	ctrlEnter(r)
	eventually(t, "the conflict and the new version", func() bool {
		text := drawn(r.win.Content())
		return r.shown != nil && r.shown.Version == 5 && strings.Contains(text, "the record changed since it was shown (version 3, now 5)") &&
			strings.Contains(text, "version 5")
	})
	if r.choice != noChoice || !r.confirmBtn.Disabled() {
		t.Error("after a conflict the clinician must choose again")
	}
}

func TestRejectWithoutAReasonIsRefused(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	r, _ := openReview(t, f)
	selectAndLoad(t, r, 0)

	onUI(func() { test.Tap(r.rejectBtn) })
	if r.dialog == nil {
		t.Fatal("no reject dialog")
	}
	text := drawn(r.win.Canvas().Overlays().Top())
	if !strings.Contains(text, "The online consultation platform will be told") {
		t.Errorf("the dialog does not say the platform is told: %q", text)
	}
	tapButton(t, r.win.Canvas().Overlays().Top(), "Reject")
	if f.sawCall("Reject") {
		t.Fatal("rejected without a reason")
	}
	if !strings.Contains(drawn(r.win.Canvas().Overlays().Top()), ReasonRequired) {
		t.Error("no message asking for a reason")
	}
	onUI(func() { test.Type(r.reason, "Duplicate of an earlier consultation") })
	tapButton(t, r.win.Canvas().Overlays().Top(), "Reject")
	eventually(t, "the rejection", func() bool { return f.sawCall("Reject 1 Duplicate of an earlier consultation") })
	eventually(t, "the dialog to close", func() bool { return r.dialog == nil })
}

func TestEscClosesTheRejectDialog(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	r, _ := openReview(t, f)
	selectAndLoad(t, r, 0)
	onUI(func() { test.Tap(r.rejectBtn) })
	onUI(func() { r.reason.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape}) })
	if r.dialog != nil {
		t.Error("Esc in the reason did not close the dialog")
	}
	onUI(func() { test.Tap(r.rejectBtn) })
	key(r, fyne.KeyEscape)
	if r.dialog != nil {
		t.Error("Esc on the window did not close the dialog")
	}
}

func tapButton(t *testing.T, o fyne.CanvasObject, label string) {
	t.Helper()
	var found *widget.Button
	onUI(func() {
		for _, obj := range test.LaidOutObjects(o) {
			if b, ok := obj.(*widget.Button); ok && found == nil && strings.HasPrefix(b.Text, label) {
				found = b
			}
		}
	})
	if found != nil {
		onUI(func() { test.Tap(found) })
		return
	}
	t.Fatalf("no button %q in %q", label, drawn(o))
}

func TestKeyboardMovesThroughTheListAndSelectsTheNextAfterADecision(t *testing.T) {
	f := newFake()
	for i := range 3 {
		f.add(uint64(i+1), fmt.Sprint("Patient", i+1), i)
	}
	r, _ := openReview(t, f)
	eventually(t, "three rows", func() bool { return len(r.records) == 3 })
	eventually(t, "the newest selected at once", func() bool { return r.selected == 3 })
	key(r, fyne.KeyDown)
	eventually(t, "the second", func() bool { return r.selected == 2 })
	key(r, fyne.KeyUp)
	eventually(t, "the first again", func() bool { return r.selected == 3 })
	key(r, fyne.KeyDown)
	eventually(t, "the second loaded", func() bool { return r.shown != nil && r.shown.ID == 2 })

	typeRune(r, 'n')
	ctrlEnter(r)
	eventually(t, "the next writeback after confirming", func() bool {
		return f.sawCall("Confirm 2") && r.selected == 1 && len(r.records) == 2
	})
}

func TestTheListFollowsTheWatchStream(t *testing.T) {
	f := newFake()
	f.add(1, "First", 0)
	r, s := openReview(t, f)
	eventually(t, "one row", func() bool { return len(r.records) == 1 })

	arrived := f.add(2, "Arrived", 30)
	s.events <- apitype.Event{Type: apitype.EventRecord, Record: &arrived.Record}
	eventually(t, "the new writeback at the top", func() bool { return len(r.records) == 2 && r.records[0].ID == 2 })

	elsewhere := arrived.Record
	elsewhere.State = queue.Ready // confirmed elsewhere (the command line)
	s.events <- apitype.Event{Type: apitype.EventRecord, Record: &elsewhere}
	eventually(t, "the confirmed writeback gone", func() bool { return len(r.records) == 1 && r.records[0].ID == 1 })

	filed := f.records[1].Record
	filed.State = queue.Filed
	s.events <- apitype.Event{Type: apitype.EventRecord, Record: &filed}
	eventually(t, "an empty list", func() bool {
		return len(r.records) == 0 && strings.Contains(drawn(r.win.Content()), NothingWaiting)
	})
}

func TestOfflineBannerAndRecovery(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	r, s := openReview(t, f)
	if r.banner.Visible() {
		t.Fatal("banner shown while the service runs")
	}
	f.mu.Lock()
	f.offline = true
	f.mu.Unlock()
	s.Close() // the service stopped
	eventually(t, "the banner", func() bool { return r.banner.Visible() })
	if !strings.Contains(drawn(r.win.Content()), OfflineTitle) {
		t.Error("the banner does not say the service is not running")
	}
	f.mu.Lock()
	f.offline = false
	f.mu.Unlock()
	f.stream(t)
	eventually(t, "the banner to go", func() bool { return !r.banner.Visible() })
}

func TestMatchedPatientBesideTheRequestsWithDifferencesHighlighted(t *testing.T) {
	f := newFake()
	d := f.add(1, "O'Neill", 0)
	d.Match.Patient.DateOfBirth = "1980-03-01"
	d.Match.Patient.GivenNames = "Siobhán Mary"
	r, _ := openReview(t, f)
	selectAndLoad(t, r, 0)
	text := drawn(r.detail)
	for _, want := range []string{"In the request", "In the clinical system",
		"O'NEILL, Siobhan", "O'NEILL, Siobhán Mary   ≠ differs",
		"29/02/1980 (46 years)", "01/03/1980 (46 years)   ≠ differs",
		"943 476 5919", "NHS number valid", "Identity verified by the platform", "Exactly one patient record has this NHS number",
		"Headache", "SNOMED CT 25064002", "letter.pdf   ·   application/pdf   ·   2 KB"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q not shown; shown:\n%s", want, text)
		}
	}
	if strings.Contains(text, "943 476 5919   ≠ differs") {
		t.Error("an equal NHS number is marked as different")
	}
}

func TestNoConfirmWithoutTheClinicalSystemsPatient(t *testing.T) {
	f := newFake()
	d := f.add(1, "O'Neill", 0)
	d.Match = &apitype.Match{NHSNumberValid: true, IdentityVerified: true, Error: "the filing component is not running"}
	r, _ := openReview(t, f)
	selectAndLoad(t, r, 0)
	typeRune(r, 'v')
	if !r.confirmBtn.Disabled() {
		t.Error("confirm enabled without the clinical system's patient")
	}
	if !strings.Contains(drawn(r.detail), "the filing component is not running") {
		t.Error("the look-up's failure is not shown")
	}
}

func TestOpenedAttachmentIsPrivateAndRemovedOnClose(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	f.attached["1/0"] = []byte("%PDF-1.4 test")
	t.Setenv("TMPDIR", t.TempDir())
	fastReconnect(t)
	a := test.NewTempApp(t)
	opened := make(chan string, 1)
	var r *Review
	onUI(func() {
		r = NewReview(a, f, ReviewOptions{Open: func(p string) error { opened <- p; return nil }})
		r.Window().Show()
	})
	f.stream(t)
	eventually(t, "the first state", func() bool { return r.loaded })
	selectAndLoad(t, r, 0)
	tapButton(t, r.detail, "Open")
	var path string
	select {
	case path = <-opened:
	case <-time.After(5 * time.Second):
		t.Fatal("the attachment was not opened")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || !strings.HasSuffix(path, "letter.pdf") {
		t.Fatalf("temporary copy %s: %v %v", path, fi.Mode(), err)
	}
	r.Window().Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the temporary copy outlived the window: %v", err)
	}
}

func TestAThousandRowsAreVirtualised(t *testing.T) {
	f := newFake()
	for i := range 1000 {
		f.add(uint64(i+1), fmt.Sprint("Patient", i+1), i)
	}
	r, _ := openReview(t, f)
	eventually(t, "1,000 rows", func() bool { return len(r.records) == 1000 && r.list.Length() == 1000 })
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	fetched := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "Record ") {
			fetched++
		}
	}
	f.mu.Unlock()
	if fetched == 0 || fetched > 60 {
		t.Errorf("%d rows' content fetched for a window showing a screenful; want only the visible rows", fetched)
	}
	for range 5 {
		key(r, fyne.KeyDown)
	}
	eventually(t, "the sixth row", func() bool { return r.selected == 995 })
	key(r, fyne.KeyPageDown)
	eventually(t, "ten rows on", func() bool { return r.selected == 985 })
	key(r, fyne.KeyEnd)
	eventually(t, "the last row", func() bool { return r.selected == 1 })
	key(r, fyne.KeyHome)
	eventually(t, "the first row", func() bool { return r.selected == 1000 })
}

func TestReviewSaysWhenTheUserIsNotLinked(t *testing.T) {
	f := newFake()
	f.status.Caller = &apitype.Caller{OSUser: "carol"}
	r, _ := openReview(t, f)
	eventually(t, "the not-linked text", func() bool {
		return strings.Contains(drawn(r.win.Content()), NotLinkedText) && drawn(r.heading) == "Not linked"
	})
	if !r.confirmBtn.Disabled() || !r.rejectBtn.Disabled() {
		t.Error("decisions offered with nothing to decide")
	}
}

func TestTheShownWritebackIsShownAgainWhenItChanges(t *testing.T) {
	f := newFake()
	f.add(1, "O'Neill", 0)
	r, s := openReview(t, f)
	selectAndLoad(t, r, 0)
	typeRune(r, 'v')
	f.mu.Lock()
	f.records[1].Version = 4
	changed := f.records[1].Record
	f.mu.Unlock()
	s.events <- apitype.Event{Type: apitype.EventRecord, Record: &changed}
	eventually(t, "the writeback shown again", func() bool {
		return r.shown != nil && r.shown.Version == 4 &&
			strings.Contains(drawn(r.win.Content()), "changed while you were looking at it (version 3, now 4)")
	})
	if r.choice != noChoice || !r.confirmBtn.Disabled() {
		t.Error("the choice made for the old version was kept")
	}
}

func TestCopiesLeftByAnEndedWindowAreRemoved(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	stale, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(stale, "letter.pdf"), []byte("%PDF"), 0o600)
	fastReconnect(t)
	a := test.NewTempApp(t)
	var r *Review
	onUI(func() { r = NewReview(a, newFake(), ReviewOptions{}) })
	defer r.Window().Close() // not under onUI: closing waits for the stream's follower
	inflight.Wait()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a copy left by an ended window is still there: %v", err)
	}
}
