package windows

import (
	"context"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/paths"
)

// Texts of the About window.
const (
	// Summary says in one sentence what the product does.
	Summary = ProductName + " files clinicians' online-consultation outcomes into GP patient records."
	// TrayHint tells people where to look for the agent's state.
	TrayHint = "Open the tray icon for status."
)

// aboutWidth is the About window's width; its height follows the content.
const aboutWidth = 440

// NewAbout returns the About window for version (shown as "dev" when
// empty), sized to fit its content. The caller shows it.
func NewAbout(a fyne.App, version string) fyne.Window {
	w := a.NewWindow("About " + ProductName)
	w.SetIcon(AppIcon)
	w.SetContent(AboutContent(version, w.Close))
	w.Resize(fyne.NewSize(aboutWidth, w.Content().MinSize().Height))
	w.SetFixedSize(true)
	w.CenterOnScreen()
	return w
}

// AboutContent returns the body of the About window: the icon, product name
// and version, what the product does, where to find its status, and a Close
// button that calls onClose.
func AboutContent(version string, onClose func()) fyne.CanvasObject {
	return container.NewPadded(container.NewVBox(
		aboutHeader(version),
		container.NewHBox(layout.NewSpacer(), closeButton(onClose)),
	))
}

func closeButton(onClose func()) *widget.Button {
	b := widget.NewButton("Close", onClose)
	b.Importance = widget.HighImportance
	return b
}

// aboutHeader is the icon, product name and version, what the product does and where to
// find its status.
func aboutHeader(version string) fyne.CanvasObject {
	if version == "" {
		version = "dev"
	}
	icon := canvas.NewImageFromResource(AppIcon)
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSquareSize(64))

	name := widget.NewRichText(&widget.TextSegment{
		Style: widget.RichTextStyleSubHeading,
		Text:  ProductName,
	})
	ver := widget.NewLabel("Version " + version)
	heading := container.NewBorder(nil, nil, icon, nil,
		container.NewVBox(layout.NewSpacer(), name, ver, layout.NewSpacer()))

	summary := widget.NewLabel(Summary)
	summary.Wrapping = fyne.TextWrapWord
	hint := widget.NewLabel(TrayHint)
	hint.Wrapping = fyne.TextWrapWord
	return container.NewVBox(heading, widget.NewSeparator(), summary, hint)
}

// AboutService is the About window with what the service says: its version, the data and
// log folders, and for administrators "Save diagnostics…" (the PHI-free bundle).
type AboutService struct {
	svc     Service
	win     fyne.Window
	version string
	live    *live

	status  *apitype.Status
	message string

	banner  *Banner
	details *fyne.Container
}

// NewAboutService returns the About window following the service until it is closed.
func NewAboutService(a fyne.App, version string, svc Service) *AboutService {
	w := &AboutService{svc: svc, version: version}
	w.win = a.NewWindow("About " + ProductName)
	w.win.SetIcon(AppIcon)
	w.banner = NewBanner()
	w.details = container.NewVBox()
	w.render()
	w.win.SetContent(container.NewBorder(w.banner, nil, nil, nil, container.NewPadded(container.NewVBox(
		aboutHeader(version), widget.NewSeparator(), w.details,
		container.NewHBox(layout.NewSpacer(), closeButton(w.win.Close))))))
	w.win.Resize(fyne.NewSize(560, w.win.Content().MinSize().Height+80))
	w.win.CenterOnScreen()
	w.live = &live{svc: svc, win: w.win, banner: w.banner, onEvent: func(e apitype.Event) {
		if e.Status != nil {
			w.status = e.Status
			w.render()
		}
	}}
	setOnClosed(w.win, w.live.stop)
	w.live.start()
	return w
}

// Window is the window.
func (w *AboutService) Window() fyne.Window { return w.win }

// Ready reports whether the service's status has arrived.
func (w *AboutService) Ready() bool { return w.status != nil }

func (w *AboutService) render() {
	w.details.RemoveAll()
	data, err := paths.DataDir()
	if err != nil {
		data = "unknown (" + err.Error() + ")"
	}
	service := "not running"
	if w.status != nil {
		service = w.status.Version
		if service == "" {
			service = "dev"
		}
	}
	form := widget.NewForm(
		widget.NewFormItem("This window", widget.NewLabel(orDev(w.version))),
		widget.NewFormItem("The service", widget.NewLabel(service)),
		widget.NewFormItem("Data folder", selectable(data+" (unless IT chose another)")),
		widget.NewFormItem("Log folder", selectable(filepath.Join(data, paths.LogsDir))),
	)
	w.details.Add(form)
	if w.status != nil && w.status.Caller != nil && w.status.Caller.Admin {
		save := widget.NewButtonWithIcon("Save diagnostics…", theme.DocumentSaveIcon(), w.saveDiagnostics)
		note := widget.NewLabel("For IT and support: settings, conditions and counts, never patient data.")
		note.Wrapping = fyne.TextWrapWord
		w.details.Add(container.NewBorder(nil, nil, nil, save, note))
	}
	if w.message != "" {
		w.details.Add(widget.NewLabel(w.message))
	}
}

func orDev(v string) string {
	if v == "" {
		return "dev"
	}
	return v
}

// selectable shows a path that can be selected and copied.
func selectable(text string) fyne.CanvasObject {
	l := widget.NewLabel(text)
	l.Selectable = true
	l.Wrapping = fyne.TextWrapBreak
	return l
}

func (w *AboutService) saveDiagnostics() {
	d := dialog.NewFileSave(func(f fyne.URIWriteCloser, err error) {
		if err != nil || f == nil {
			return
		}
		spawn(func() {
			defer f.Close()
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			defer cancel()
			err := w.svc.Diag(ctx, f)
			do(func() {
				if err != nil {
					w.message = "Diagnostics not saved: " + errText(err)
				} else {
					w.message = "Diagnostics saved to " + f.URI().Path() + "."
				}
				w.render()
			})
		})
	}, w.win)
	d.SetFileName("wbagent-diagnostics-" + time.Now().Format("20060102-1504") + ".zip")
	d.Show()
}
