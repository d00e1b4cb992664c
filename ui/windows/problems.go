package windows

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"net/http"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/condition"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
)

// Texts of the problems window.
const (
	ProblemsTitle = "Problems"
	NoProblems    = "Nothing is wrong: filing works."
	CheckAgain    = "Check again"
	Checking      = "Checking the integration now…"
	NoProbe       = "This version of the service cannot check on demand (it has no probe route); it checks by itself every few minutes."
)

// SeverityText names a severity.
func SeverityText(s condition.Severity) string {
	switch s {
	case condition.Blocking:
		return "Filing stopped"
	case condition.Warning:
		return "Warning"
	}
	return "For information"
}

func severityColour(s condition.Severity) color.Color {
	switch s {
	case condition.Blocking:
		return color.NRGBA{R: 0xb0, G: 0x1c, B: 0x1c, A: 0xff}
	case condition.Warning:
		return color.NRGBA{R: 0xc2, G: 0x6a, B: 0x00, A: 0xff}
	}
	return color.NRGBA{R: 0x1d, G: 0x5c, B: 0xa8, A: 0xff}
}

// Problems is the problems window: every condition, most severe first, with who fixes it
// and the numbered steps, and Check again.
type Problems struct {
	svc  Service
	win  fyne.Window
	live *live

	status   *apitype.Status
	probe    *apitype.ProbeResult
	probeErr string
	checking bool

	banner  *Banner
	heading *widget.Label
	check   *widget.Button
	box     *fyne.Container
	result  *fyne.Container
}

// NewProblems returns the problems window, live until closed. The caller shows it.
func NewProblems(a fyne.App, svc Service) *Problems {
	p := &Problems{svc: svc}
	p.win = a.NewWindow(ProblemsTitle + " — " + ProductName)
	p.win.SetIcon(AppIcon)
	p.banner = NewBanner()
	p.heading = widget.NewLabelWithStyle("Connecting to the service…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.check = widget.NewButtonWithIcon(CheckAgain, theme.ViewRefreshIcon(), p.checkAgain)
	p.check.Importance = widget.HighImportance
	p.box = container.NewVBox()
	p.result = container.NewVBox()
	top := container.NewVBox(p.banner, container.NewPadded(container.NewBorder(nil, nil, nil, p.check, p.heading)))
	p.win.SetContent(container.NewBorder(top, nil, nil, nil,
		container.NewVScroll(container.NewPadded(container.NewVBox(p.result, p.box)))))
	p.win.Resize(fyne.NewSize(900, 640))
	p.win.CenterOnScreen()
	p.live = &live{svc: svc, win: p.win, banner: p.banner, onEvent: p.onEvent}
	setOnClosed(p.win, p.live.stop)
	p.live.start()
	return p
}

// Window is the window.
func (p *Problems) Window() fyne.Window { return p.win }

// Ready reports whether the service's status has arrived.
func (p *Problems) Ready() bool { return p.status != nil }

func (p *Problems) onEvent(e apitype.Event) {
	if e.Status != nil {
		p.status = e.Status
		p.render()
	}
}

// checkAgain makes the service probe the integration now and shows what it found.
func (p *Problems) checkAgain() {
	if p.checking {
		return
	}
	p.checking, p.probe, p.probeErr = true, nil, ""
	p.check.Disable()
	p.render()
	spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		res, err := p.svc.Probe(ctx)
		do(func() {
			p.checking = false
			p.check.Enable()
			var ae *client.APIError
			switch {
			case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
				p.probeErr = NoProbe
			case err != nil:
				p.probeErr = "Could not check: " + errText(err)
			default:
				p.probe = res
				st := res.Status
				p.status = &st
			}
			p.render()
		})
	})
}

func (p *Problems) render() {
	p.result.RemoveAll()
	switch {
	case p.checking:
		p.result.Add(widget.NewLabel(Checking))
	case p.probeErr != "":
		p.result.Add(errorLabel(p.probeErr))
	case p.probe != nil:
		p.result.Add(probeBox(p.probe))
	}
	p.box.RemoveAll()
	if p.status == nil {
		return
	}
	conds := slices.Clone(p.status.Conditions)
	condition.Sort(conds)
	switch n := len(conds); n {
	case 0:
		p.heading.SetText(NoProblems)
	case 1:
		p.heading.SetText("1 problem")
	default:
		p.heading.SetText(fmt.Sprintf("%d problems, most serious first", n))
	}
	for _, c := range conds {
		p.box.Add(conditionCard(c))
	}
}

// probeBox shows each fresh check's result.
func probeBox(res *apitype.ProbeResult) fyne.CanvasObject {
	box := container.NewVBox(heading("Checked just now"))
	for _, c := range res.Checks {
		var icon fyne.Resource = theme.NewSuccessThemedResource(theme.ConfirmIcon())
		text := c.Title
		l := widget.NewLabel("")
		if !c.OK {
			icon = theme.NewErrorThemedResource(theme.CancelIcon())
			l.Importance = widget.DangerImportance
			if c.Detail != "" {
				text += ": " + c.Detail
			}
		}
		l.SetText(text)
		l.Wrapping = fyne.TextWrapWord
		box.Add(container.NewBorder(nil, nil, widget.NewIcon(icon), nil, l))
	}
	if res.Incomplete {
		box.Add(errorLabel("Some checks did not answer in time; they are shown as failed."))
	}
	box.Add(widget.NewSeparator())
	return box
}

// conditionCard shows one condition: severity, title, who fixes it, the numbered steps.
func conditionCard(c condition.Condition) fyne.CanvasObject {
	stripe := canvas.NewRectangle(severityColour(c.Severity))
	stripe.SetMinSize(fyne.NewSize(6, 6))
	sev := canvas.NewText(SeverityText(c.Severity), severityColour(c.Severity))
	sev.TextStyle.Bold = true
	who := widget.NewLabel("Who fixes it: " + c.Owner.Text())
	who.TextStyle.Bold = true
	items := []fyne.CanvasObject{
		container.NewHBox(sev, layout.NewSpacer(), who),
		heading(c.Title),
	}
	for i, step := range Steps(c.Fix) {
		l := widget.NewLabel(fmt.Sprintf("%d.  %s", i+1, step))
		l.Wrapping = fyne.TextWrapWord
		items = append(items, l)
	}
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	bg.CornerRadius = theme.InputRadiusSize()
	return container.NewPadded(container.NewStack(bg,
		container.NewBorder(nil, nil, stripe, nil, container.NewPadded(container.NewVBox(items...)))))
}
