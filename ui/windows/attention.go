package windows

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
)

// Texts of the needs-attention window.
const (
	AttentionTitle   = "Writebacks that need attention"
	NothingStopped   = "No writeback needs attention."
	OthersReasonNote = "Only the writeback's clinician sees what is wrong and the patient's details."
)

// Attention is the needs-attention window: the caller's writebacks that stopped (an
// administrator's: everyone's), each with the reason, the fix, Retry and (administrators)
// Cancel with a reason.
type Attention struct {
	svc  Service
	win  fyne.Window
	live *live

	records []apitype.Record
	details map[uint64]*apitype.RecordDetail
	caller  *apitype.Caller
	loaded  bool
	errs    map[uint64]string // the last refusal of an action, per record
	dialog  *dialog.CustomDialog

	banner  *Banner
	heading *widget.Label
	box     *fyne.Container
}

// NewAttention returns the needs-attention window, live until closed. The caller shows it.
func NewAttention(a fyne.App, svc Service) *Attention {
	w := &Attention{svc: svc, details: map[uint64]*apitype.RecordDetail{}, errs: map[uint64]string{}}
	w.win = a.NewWindow(AttentionTitle + " — " + ProductName)
	w.win.SetIcon(AppIcon)
	w.banner = NewBanner()
	w.heading = widget.NewLabelWithStyle("Connecting to the service…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.box = container.NewVBox()
	w.win.SetContent(container.NewBorder(container.NewVBox(w.banner, container.NewPadded(w.heading)), nil, nil, nil,
		container.NewVScroll(container.NewPadded(w.box))))
	w.win.Resize(fyne.NewSize(900, 620))
	w.win.CenterOnScreen()
	w.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape && w.dialog != nil {
			w.dialog.Hide()
		}
	})
	w.live = &live{svc: svc, win: w.win, banner: w.banner, onEvent: w.onEvent}
	setOnClosed(w.win, w.live.stop)
	w.live.start()
	return w
}

// Window is the window.
func (w *Attention) Window() fyne.Window { return w.win }

// Ready reports whether the first state has arrived and every card's patient is shown.
func (w *Attention) Ready() bool {
	if !w.loaded {
		return false
	}
	for _, r := range w.records {
		if d := w.details[r.ID]; r.Mine && (d == nil || d.Content == nil) {
			return false
		}
	}
	return true
}

func (w *Attention) admin() bool { return w.caller != nil && w.caller.Admin }

// shows reports whether a record belongs in the window.
func (w *Attention) shows(r apitype.Record) bool {
	return r.State == queue.NeedsAttention && (r.Mine || w.admin())
}

func (w *Attention) onEvent(e apitype.Event) {
	if e.Status != nil && e.Status.Caller != nil {
		w.caller = e.Status.Caller
	}
	switch e.Type {
	case apitype.EventState:
		w.loaded = true
		w.records = nil
		for _, r := range e.Records {
			if w.shows(r) {
				w.records = append(w.records, r)
			}
		}
	case apitype.EventRecord:
		if e.Record == nil {
			return
		}
		i := slices.IndexFunc(w.records, func(r apitype.Record) bool { return r.ID == e.Record.ID })
		switch {
		case i >= 0 && w.shows(*e.Record):
			w.records[i] = *e.Record
			delete(w.details, e.Record.ID)
		case i >= 0:
			w.records = slices.Delete(w.records, i, i+1)
			delete(w.details, e.Record.ID)
			delete(w.errs, e.Record.ID)
		case w.shows(*e.Record):
			w.records = append(w.records, *e.Record)
		}
	default:
		return
	}
	slices.SortStableFunc(w.records, func(a, b apitype.Record) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	w.render()
}

func (w *Attention) render() {
	switch n := len(w.records); {
	case !w.loaded:
		w.heading.SetText("Connecting to the service…")
	case n == 1:
		w.heading.SetText("1 writeback needs attention")
	default:
		w.heading.SetText(fmt.Sprintf("%d writebacks need attention", n))
	}
	w.box.RemoveAll()
	if w.loaded && len(w.records) == 0 {
		w.box.Add(widget.NewLabel(NothingStopped))
	}
	for _, r := range w.records {
		w.box.Add(w.card(r))
	}
}

// card shows one stopped writeback.
func (w *Attention) card(r apitype.Record) fyne.CanvasObject {
	title := fmt.Sprintf("Record %d", r.ID)
	if d := w.details[r.ID]; d != nil && d.Content != nil {
		p := d.Content.Patient
		title = PatientName(p) + "   " + NHSNumber(p.NHSNumber)
	} else if r.Mine {
		w.fetch(r.ID)
	}
	items := []fyne.CanvasObject{heading(title)}
	if r.Reason != nil && r.Reason.Text != "" {
		what := widget.NewLabel(r.Reason.Text)
		what.Wrapping = fyne.TextWrapWord
		what.TextStyle.Bold = true
		items = append(items, what)
		if r.Reason.Fix != "" {
			items = append(items, widget.NewLabelWithStyle("What to do", fyne.TextAlignLeading, fyne.TextStyle{Italic: true}))
			for i, step := range Steps(r.Reason.Fix) {
				l := widget.NewLabel(fmt.Sprintf("%d.  %s", i+1, step))
				l.Wrapping = fyne.TextWrapWord
				items = append(items, l)
			}
		}
	} else {
		code := "unknown"
		if r.Reason != nil {
			code = r.Reason.Code
		}
		note := widget.NewLabel(fmt.Sprintf("Reason: %s. %s", code, OthersReasonNote))
		note.Wrapping = fyne.TextWrapWord
		items = append(items, note)
	}
	if msg := w.errs[r.ID]; msg != "" {
		items = append(items, errorLabel(msg))
	}
	retry := widget.NewButtonWithIcon("Retry", theme.ViewRefreshIcon(), func() { w.act(r.ID, "Retry") })
	retry.Importance = widget.HighImportance
	buttons := container.NewHBox(layout.NewSpacer())
	if w.admin() {
		cancel := widget.NewButtonWithIcon("Cancel writeback…", theme.DeleteIcon(), func() { w.askCancel(r) })
		cancel.Importance = widget.DangerImportance
		buttons.Add(cancel)
	}
	if r.Mine || w.admin() {
		buttons.Add(retry)
	}
	items = append(items, buttons)
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	bg.CornerRadius = theme.InputRadiusSize()
	return container.NewPadded(container.NewStack(bg, container.NewPadded(container.NewVBox(items...))))
}

// Steps splits a fix into its steps: one per line.
func Steps(fix string) []string {
	var out []string
	for _, line := range strings.Split(fix, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func (w *Attention) fetch(id uint64) {
	if _, ok := w.details[id]; ok {
		return
	}
	w.details[id] = nil
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		d, err := w.svc.Record(ctx, id)
		if err != nil {
			return
		}
		do(func() {
			if _, ok := w.details[id]; ok {
				w.details[id] = d
				w.render()
			}
		})
	})
}

// act retries or cancels a record; a refusal is shown on its card in the service's words.
func (w *Attention) act(id uint64, action string, reason ...string) {
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		var err error
		if action == "Retry" {
			_, err = w.svc.Retry(ctx, id)
		} else {
			_, err = w.svc.Cancel(ctx, id, reason[0])
		}
		do(func() {
			if err != nil {
				w.errs[id] = errText(err)
			} else {
				delete(w.errs, id)
			}
			w.render()
		})
	})
}

// askCancel asks an administrator for the reason to cancel a writeback.
func (w *Attention) askCancel(r apitype.Record) {
	entry := newEscEntry(func() {
		if w.dialog != nil {
			w.dialog.Hide()
		}
	})
	entry.SetPlaceHolder("Reason (required)")
	problem := errorLabel("")
	problem.Hide()
	explain := widget.NewLabel(fmt.Sprintf("Record %d will not be filed. The online consultation platform will be told it was cancelled.", r.ID))
	explain.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(explain, entry, problem)
	dlg := dialog.NewCustomWithoutButtons("Cancel this writeback", container.NewGridWrap(fyne.NewSize(480, body.MinSize().Height+40), body), w.win)
	keep := widget.NewButton("Keep it   (Esc)", func() { dlg.Hide() })
	do := widget.NewButtonWithIcon("Cancel writeback", theme.DeleteIcon(), func() {
		reason := strings.TrimSpace(entry.Text)
		if reason == "" {
			problem.SetText("Give a reason.")
			problem.Show()
			return
		}
		dlg.Hide()
		w.act(r.ID, "Cancel", reason)
	})
	do.Importance = widget.DangerImportance
	dlg.SetButtons([]fyne.CanvasObject{keep, do})
	dlg.SetOnClosed(func() { w.dialog = nil })
	w.dialog = dlg
	dlg.Show()
	w.win.Canvas().Focus(entry)
}
