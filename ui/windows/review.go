package windows

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Texts of the review window.
const (
	ReviewTitle     = "Review and confirm filings"
	VisibleQuestion = "Can the patient see this consultation online?"
	VisibleYes      = "Yes, visible to the patient online   (V)"
	VisibleNo       = "No, not visible online   (N)"
	ConfirmLabel    = "Confirm and file   (Ctrl+Enter)"
	RejectLabel     = "Reject…"
	NothingWaiting  = "Nothing is waiting for your confirmation."
	ChooseFirst     = "Choose whether the patient can see it online to confirm."
	RejectTitle     = "Reject this writeback"
	RejectExplain   = "It will not be filed. The online consultation platform will be told that you rejected it, with your reason."
	ReasonRequired  = "Give a reason: the platform passes it on."
	NotLinkedText   = "This computer user is not linked to a clinical user, so no filings are shown. Open Account (tray menu) to link."
)

// pageRows is how far Page Up and Page Down move through the list.
const pageRows = 10

// The rune keys that choose online visibility.
const (
	keyVisible    = 'v'
	keyNotVisible = 'n'
)

// visibility is the clinician's choice; none until they make one.
type visibility int

const (
	noChoice visibility = iota
	visible
	notVisible
)

// ReviewOptions configure the review window.
type ReviewOptions struct {
	// Now is the clock (ages, received times); nil: time.Now.
	Now func() time.Time
	// Open opens a file in the desktop's viewer; nil: the app's OpenURL.
	Open func(path string) error
}

// Review is the review window: the caller's writebacks waiting for confirmation, the one
// selected in full beside the clinical system's patient, and the decision.
type Review struct {
	svc  Service
	app  fyne.App
	win  fyne.Window
	opts ReviewOptions
	live *live

	records []apitype.Record                 // the caller's, waiting, newest first
	rows    map[uint64]*apitype.RecordDetail // content of listed rows (memory only)
	loading map[uint64]bool
	caller  *apitype.Caller
	loaded  bool // the first state arrived

	selected  uint64
	removedAt int                   // the list index of the writeback decided last
	shown     *apitype.RecordDetail // the selected record as reviewed (with its match)
	choice    visibility
	busy      bool
	tmpMu     sync.Mutex
	tmpDir    string // temporary copies of opened attachments; removed on close
	dialog    *dialog.CustomDialog
	reason    *escEntry

	banner     *Banner
	heading    *widget.Label
	list       *widget.List
	detail     *fyne.Container
	scroll     *container.Scroll
	radio      *widget.RadioGroup
	confirmBtn *widget.Button
	rejectBtn  *widget.Button
	message    *widget.Label
	hint       *widget.Label
	decision   *fyne.Container
}

// NewReview returns the review window, following the service's watch stream until it is
// closed. The caller shows it.
func NewReview(a fyne.App, svc Service, opts ReviewOptions) *Review {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Review{svc: svc, app: a, opts: opts, rows: map[uint64]*apitype.RecordDetail{}, loading: map[uint64]bool{}}
	r.win = a.NewWindow(ReviewTitle + " — " + ProductName)
	r.win.SetIcon(AppIcon)
	r.build()
	r.win.SetContent(r.content())
	r.win.Resize(fyne.NewSize(1200, 700))
	r.win.CenterOnScreen()
	r.bindKeys()
	r.live = &live{svc: svc, win: r.win, banner: r.banner, onEvent: r.onEvent}
	setOnClosed(r.win, r.closed)
	spawn(removeStaleCopies)
	r.live.start()
	return r
}

// Window is the review's window.
func (r *Review) Window() fyne.Window { return r.win }

func (r *Review) closed() {
	r.live.stop()
	r.tmpMu.Lock()
	defer r.tmpMu.Unlock()
	if r.tmpDir != "" {
		os.RemoveAll(r.tmpDir)
		r.tmpDir = ""
	}
}

func (r *Review) build() {
	r.banner = NewBanner()
	r.heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.list = widget.NewList(func() int { return len(r.records) }, newRow, r.updateRow)
	r.list.OnSelected = func(i widget.ListItemID) {
		if i >= 0 && i < len(r.records) && r.records[i].ID != r.selected {
			r.show(r.records[i].ID)
		}
		r.win.Canvas().Unfocus() // keep ↑/↓, V and N for the window
	}
	r.detail = container.NewVBox()
	r.scroll = container.NewVScroll(container.NewPadded(r.detail))

	r.radio = widget.NewRadioGroup([]string{VisibleYes, VisibleNo}, func(s string) {
		switch s {
		case VisibleYes:
			r.choice = visible
		case VisibleNo:
			r.choice = notVisible
		default:
			r.choice = noChoice
		}
		r.updateButtons()
		r.win.Canvas().Unfocus()
	})
	r.radio.Horizontal = true
	r.confirmBtn = widget.NewButtonWithIcon(ConfirmLabel, theme.ConfirmIcon(), r.confirm)
	r.confirmBtn.Importance = widget.HighImportance
	r.rejectBtn = widget.NewButtonWithIcon(RejectLabel, theme.CancelIcon(), r.askReject)
	r.rejectBtn.Importance = widget.DangerImportance
	r.message = widget.NewLabel("")
	r.message.Wrapping = fyne.TextWrapWord
	r.message.Importance = widget.DangerImportance
	r.message.Hide()
	r.hint = widget.NewLabelWithStyle(ChooseFirst, fyne.TextAlignTrailing, fyne.TextStyle{Italic: true})
	question := widget.NewLabelWithStyle(VisibleQuestion, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.decision = container.NewVBox(
		widget.NewSeparator(),
		question,
		r.radio,
		r.message,
		container.NewHBox(r.rejectBtn, layout.NewSpacer(), r.hint, r.confirmBtn),
	)
	r.refresh()
}

func (r *Review) content() fyne.CanvasObject {
	left := container.NewBorder(container.NewPadded(r.heading), nil, nil, nil, r.list)
	right := container.NewBorder(nil, container.NewPadded(r.decision), nil, nil, r.scroll)
	split := container.NewHSplit(left, right)
	split.Offset = 0.36
	return container.NewBorder(r.banner, nil, nil, nil, split)
}

// bindKeys: ↑/↓ (Page Up/Down, Home, End) move through the list, V and N choose online visibility, Ctrl+Enter
// confirms, Esc closes the reject dialog.
func (r *Review) bindKeys() {
	c := r.win.Canvas()
	c.SetOnTypedKey(r.typedKey)
	c.SetOnTypedRune(r.typedRune)
	for _, k := range []fyne.KeyName{fyne.KeyReturn, fyne.KeyEnter} {
		c.AddShortcut(&desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { r.confirm() })
	}
}

func (r *Review) typedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyDown:
		r.move(1)
	case fyne.KeyUp:
		r.move(-1)
	case fyne.KeyPageDown:
		r.move(pageRows)
	case fyne.KeyPageUp:
		r.move(-pageRows)
	case fyne.KeyHome:
		r.move(-len(r.records))
	case fyne.KeyEnd:
		r.move(len(r.records))
	case fyne.KeyEscape:
		r.closeDialog()
	}
}

func (r *Review) typedRune(c rune) {
	if r.dialog != nil || r.shown == nil {
		return
	}
	switch c {
	case keyVisible, keyVisible - 'a' + 'A':
		r.radio.SetSelected(VisibleYes)
	case keyNotVisible, keyNotVisible - 'a' + 'A':
		r.radio.SetSelected(VisibleNo)
	}
}

// move selects the writeback delta rows away from the selected one.
func (r *Review) move(delta int) {
	if r.dialog != nil || len(r.records) == 0 {
		return
	}
	i := r.index(r.selected)
	if i < 0 {
		i = 0
	} else {
		i = min(max(i+delta, 0), len(r.records)-1)
	}
	r.selectIndex(i)
}

// selectIndex selects and shows row i (the list does not call OnSelected for a row index
// already selected, which happens when the row's writeback was replaced by the next).
func (r *Review) selectIndex(i int) {
	r.list.Select(i)
	r.list.ScrollTo(i)
	if r.records[i].ID != r.selected {
		r.show(r.records[i].ID)
	}
}

func (r *Review) index(id uint64) int {
	return slices.IndexFunc(r.records, func(rec apitype.Record) bool { return rec.ID == id })
}

// waiting reports whether a record belongs in the list.
func waiting(rec apitype.Record) bool { return rec.Mine && rec.State == queue.NeedsConfirmation }

// onEvent applies a watch event: the list follows the service.
func (r *Review) onEvent(e apitype.Event) {
	if e.Status != nil && e.Status.Caller != nil {
		r.caller = e.Status.Caller
	}
	switch e.Type {
	case apitype.EventState:
		r.loaded = true
		r.records = r.records[:0]
		for _, rec := range e.Records {
			if waiting(rec) {
				r.records = append(r.records, rec)
			}
		}
	case apitype.EventRecord:
		if e.Record == nil {
			return
		}
		rec := *e.Record
		i := r.index(rec.ID)
		switch {
		case i >= 0 && waiting(rec):
			r.records[i] = rec
			if rec.ID == r.selected && r.shown != nil && rec.Version != r.shown.Version && !r.busy {
				// What the clinician is looking at changed: show it as it is now.
				was := r.shown.Version
				r.show(rec.ID)
				r.setMessage(fmt.Sprintf("This writeback changed while you were looking at it (version %d, now %d). It is shown again as it is now; review it and decide again.", was, rec.Version))
			}
		case i >= 0:
			r.records = slices.Delete(r.records, i, i+1)
			delete(r.rows, rec.ID)
		case waiting(rec):
			r.records = append(r.records, rec)
		}
	}
	r.sort()
	r.afterChange()
}

func (r *Review) sort() {
	slices.SortStableFunc(r.records, func(a, b apitype.Record) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
}

// afterChange keeps the selection on a listed writeback: the one selected if it is still
// waiting, else the one now at its place (the next), else the first.
func (r *Review) afterChange() {
	prev := r.selected
	r.list.Refresh()
	r.refresh()
	if len(r.records) == 0 {
		r.list.UnselectAll()
		r.clearShown()
		return
	}
	i := r.index(prev)
	if i >= 0 {
		r.list.Select(i) // same record: nothing reloads (OnSelected ignores it)
		return
	}
	r.selectIndex(min(r.removedAt, len(r.records)-1))
}

// clearShown empties the detail pane.
func (r *Review) clearShown() {
	r.selected, r.shown = 0, nil
	r.detail.RemoveAll()
	r.resetChoice()
	r.refresh()
}

func (r *Review) resetChoice() {
	r.choice = noChoice
	r.radio.SetSelected("")
	r.message.Hide()
	r.updateButtons()
}

func (r *Review) refresh() {
	n := len(r.records)
	switch {
	case !r.loaded:
		r.heading.SetText("Connecting to the service…")
	case r.caller != nil && r.caller.ClinicalUserID == "":
		r.heading.SetText("Not linked")
	case n == 1:
		r.heading.SetText("1 filing waiting for you")
	default:
		r.heading.SetText(fmt.Sprintf("%d filings waiting for you", n))
	}
	if r.selected == 0 {
		r.detail.RemoveAll()
		text := NothingWaiting
		if r.caller != nil && r.caller.ClinicalUserID == "" {
			text = NotLinkedText
		}
		if r.loaded {
			l := widget.NewLabel(text)
			l.Wrapping = fyne.TextWrapWord
			r.detail.Add(l)
		}
	}
	r.updateButtons()
}

// canConfirm: a writeback is shown with its clinical-system patient, a visibility choice is
// made and nothing is in progress.
func (r *Review) canConfirm() bool {
	return r.shown != nil && r.choice != noChoice && !r.busy && r.shown.Match != nil && r.shown.Match.Patient != nil
}

func (r *Review) updateButtons() {
	if r.canConfirm() {
		r.confirmBtn.Enable()
		r.hint.Hide()
	} else {
		r.confirmBtn.Disable()
		r.hint.SetText(r.whyNotConfirm())
		r.hint.Show()
	}
	if r.shown != nil && !r.busy {
		r.rejectBtn.Enable()
		r.radio.Enable()
	} else {
		r.rejectBtn.Disable()
		r.radio.Disable()
	}
}

func (r *Review) whyNotConfirm() string {
	switch {
	case r.shown == nil:
		return ""
	case r.busy:
		return "Sending…"
	case r.shown.Match == nil || r.shown.Match.Patient == nil:
		return "The clinical system's patient must be shown before you can confirm."
	}
	return ChooseFirst
}

// show loads one writeback for review, with the clinical system's patient.
func (r *Review) show(id uint64) {
	r.selected, r.shown = id, nil
	r.resetChoice()
	r.detail.RemoveAll()
	r.detail.Add(widget.NewLabel("Loading…"))
	r.updateButtons()
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		d, err := r.svc.Review(ctx, id)
		do(func() {
			if r.selected != id {
				return // another was selected meanwhile
			}
			if err != nil {
				r.detail.RemoveAll()
				r.detail.Add(errorLabel("Could not load this writeback: " + errText(err)))
				return
			}
			r.shown = d
			r.rows[id] = d
			r.renderDetail(d)
			r.updateButtons()
			r.list.RefreshItem(r.index(id))
		})
	})
}

func errorLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.DangerImportance
	return l
}

// row is one line of the list.
type row struct {
	widget.BaseWidget
	top, bottom *widget.Label
}

func newRow() fyne.CanvasObject {
	r := &row{top: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		bottom: widget.NewLabel("")}
	r.top.Truncation = fyne.TextTruncateEllipsis
	r.bottom.Truncation = fyne.TextTruncateEllipsis
	r.ExtendBaseWidget(r)
	return r
}

func (r *row) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.New(&rowLayout{}, r.top, r.bottom))
}

// rowLayout stacks the two lines closer than a VBox would.
type rowLayout struct{}

func (rowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	h := objs[0].MinSize().Height
	gap := -theme.Padding()
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(fyne.NewSize(size.Width, h))
	objs[1].Move(fyne.NewPos(0, h+gap))
	objs[1].Resize(fyne.NewSize(size.Width, objs[1].MinSize().Height))
}

func (rowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	return fyne.NewSize(200, objs[0].MinSize().Height+objs[1].MinSize().Height-theme.Padding())
}

// updateRow shows record i; its patient details are fetched the first time the row is shown.
func (r *Review) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	w := o.(*row)
	if i >= len(r.records) {
		return
	}
	rec := r.records[i]
	now := r.opts.Now()
	d := r.rows[rec.ID]
	if d == nil || d.Content == nil {
		w.top.SetText("Loading…")
		w.bottom.SetText("Received " + Received(rec.CreatedAt, now))
		r.fetchRow(rec.ID)
		return
	}
	c := d.Content
	w.top.SetText(PatientName(c.Patient) + "   " + NHSNumber(c.Patient.NHSNumber))
	w.bottom.SetText(DateOfBirth(c.Patient.DateOfBirth, now) + "  ·  " + Received(rec.CreatedAt, now) +
		"  ·  " + FirstLine(c.Summary, 80))
}

// fetchRow loads a listed record's content once.
func (r *Review) fetchRow(id uint64) {
	if r.loading[id] {
		return
	}
	r.loading[id] = true
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		d, err := r.svc.Record(ctx, id)
		do(func() {
			delete(r.loading, id)
			if err != nil || r.index(id) < 0 {
				return
			}
			if _, ok := r.rows[id]; !ok || r.rows[id].Match == nil {
				r.rows[id] = d
			}
			r.list.RefreshItem(r.index(id))
		})
	})
}

// confirm sends the clinician's decision with the version shown.
func (r *Review) confirm() {
	if !r.canConfirm() || r.dialog != nil {
		return
	}
	d, pfs := r.shown, r.choice == visible
	r.busy = true
	r.message.Hide()
	r.updateButtons()
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_, err := r.svc.Confirm(ctx, d.ID, pfs, d.Version)
		do(func() {
			r.busy = false
			if err != nil {
				r.failed(d, err)
				return
			}
			r.decided(d.ID)
			r.setNotice(fmt.Sprintf("Confirmed %s (%s): it is being filed.", PatientName(d.Content.Patient), visibilityText(pfs)))
		})
	})
}

func visibilityText(pfs bool) string {
	if pfs {
		return "visible online"
	}
	return "not visible online"
}

// setNotice says what was done last (not an error).
func (r *Review) setNotice(text string) {
	r.message.SetText(text)
	r.message.Importance = widget.SuccessImportance
	r.message.Show()
	r.message.Refresh()
}

// decided takes a decided writeback out of the list and selects the next.
func (r *Review) decided(id uint64) {
	if i := r.index(id); i >= 0 {
		r.records = slices.Delete(r.records, i, i+1)
		r.removedAt = i
	}
	delete(r.rows, id)
	r.afterChange()
}

// failed shows why a decision was refused, in the service's words. A record that changed
// since it was shown is shown again as it is now.
func (r *Review) failed(d *apitype.RecordDetail, err error) {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Code == apitype.CodeConflict && r.selected == d.ID {
		msg := ae.Message + ". It is shown again below as it is now; review it and decide again."
		r.show(d.ID)
		r.setMessage(msg)
		return
	}
	r.setMessage(errText(err))
	r.updateButtons()
}

func (r *Review) setMessage(text string) {
	r.message.SetText(text)
	r.message.Importance = widget.DangerImportance
	r.message.Show()
	r.message.Refresh()
}

// askReject opens the reject dialog.
func (r *Review) askReject() {
	if r.shown == nil || r.busy || r.dialog != nil {
		return
	}
	d := r.shown
	r.reason = newEscEntry(r.closeDialog)
	r.reason.SetPlaceHolder("Reason (required), e.g. wrong patient, duplicate, not for the record")
	r.reason.SetMinRowsVisible(3)
	problem := errorLabel("")
	problem.Hide()
	explain := widget.NewLabel(RejectExplain)
	explain.Wrapping = fyne.TextWrapWord
	who := widget.NewLabelWithStyle(PatientName(d.Content.Patient)+"   "+NHSNumber(d.Content.Patient.NHSNumber),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	body := container.NewVBox(who, explain, r.reason, problem)
	dlg := dialog.NewCustomWithoutButtons(RejectTitle, container.NewGridWrap(fyne.NewSize(520, body.MinSize().Height+40), body), r.win)
	cancelBtn := widget.NewButton("Cancel   (Esc)", r.closeDialog)
	rejectBtn := widget.NewButtonWithIcon("Reject", theme.CancelIcon(), nil)
	rejectBtn.Importance = widget.DangerImportance
	rejectBtn.OnTapped = func() { r.reject(d, problem) }
	dlg.SetButtons([]fyne.CanvasObject{cancelBtn, rejectBtn})
	dlg.SetOnClosed(func() { r.dialog, r.reason = nil, nil })
	r.dialog = dlg
	dlg.Show()
	r.win.Canvas().Focus(r.reason)
}

func (r *Review) closeDialog() {
	if r.dialog != nil {
		r.dialog.Hide()
		r.dialog, r.reason = nil, nil
	}
}

// reject sends the rejection; a reason is required.
func (r *Review) reject(d *apitype.RecordDetail, problem *widget.Label) {
	if r.reason == nil {
		return
	}
	reason := strings.TrimSpace(r.reason.Text)
	if reason == "" {
		problem.SetText(ReasonRequired)
		problem.Show()
		return
	}
	r.busy = true
	r.updateButtons()
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		_, err := r.svc.Reject(ctx, d.ID, reason)
		do(func() {
			r.busy = false
			if err != nil {
				problem.SetText(errText(err))
				problem.Show()
				r.updateButtons()
				return
			}
			r.closeDialog()
			r.decided(d.ID)
			r.setNotice(fmt.Sprintf("Rejected %s: the platform will be told.", PatientName(d.Content.Patient)))
		})
	})
}

// escEntry is a text entry that closes its dialog on Esc.
type escEntry struct {
	widget.Entry
	onEsc func()
}

func newEscEntry(onEsc func()) *escEntry {
	e := &escEntry{onEsc: onEsc}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey closes the dialog on Esc and types anything else.
func (e *escEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		e.onEsc()
		return
	}
	e.Entry.TypedKey(k)
}

// Ready reports whether the first state has arrived and the selected writeback (if any) is
// shown with its match: what make screenshots and make bench wait for.
func (r *Review) Ready() bool {
	return r.loaded && (len(r.records) == 0 || r.shown != nil)
}

// Choose makes the visibility choice, as V or N would.
func (r *Review) Choose(visibleOnline bool) {
	if visibleOnline {
		r.typedRune(keyVisible)
	} else {
		r.typedRune(keyNotVisible)
	}
}

// AskReject opens the reject dialog with reason typed in, as the Reject button would.
func (r *Review) AskReject(reason string) {
	r.askReject()
	if r.reason != nil {
		r.reason.SetText(reason)
	}
}

// SelectRecord selects the writeback with record id, if it is listed.
func (r *Review) SelectRecord(id uint64) {
	if i := r.index(id); i >= 0 {
		r.selectIndex(i)
	}
}

// ScrollToEnd scrolls the selected writeback to its end (its attachments).
func (r *Review) ScrollToEnd() { r.scroll.ScrollToBottom() }
