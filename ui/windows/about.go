package windows

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
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

	closeButton := widget.NewButton("Close", onClose)
	closeButton.Importance = widget.HighImportance

	return container.NewPadded(container.NewVBox(
		heading,
		widget.NewSeparator(),
		summary,
		hint,
		container.NewHBox(layout.NewSpacer(), closeButton),
	))
}
