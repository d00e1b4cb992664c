package windows

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// texts returns the text of every widget in o, and the rendered lines of
// text joined with spaces.
func texts(o fyne.CanvasObject) (widgets []string, rendered string) {
	var lines []string
	for _, obj := range test.LaidOutObjects(o) {
		switch obj := obj.(type) {
		case *widget.Label:
			widgets = append(widgets, obj.Text)
		case *widget.RichText:
			widgets = append(widgets, obj.String())
		case *widget.Button:
			widgets = append(widgets, obj.Text)
		case *canvas.Text:
			if obj.Visible() {
				lines = append(lines, strings.TrimSpace(obj.Text))
			}
		}
	}
	return widgets, strings.Join(lines, " ")
}

func TestAbout(t *testing.T) {
	a := test.NewTempApp(t)
	w := NewAbout(a, "1.2.3")
	w.Show()
	defer w.Close()

	if got, want := w.Title(), "About Writeback Agent"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}

	widgets, rendered := texts(w.Content())
	for _, want := range []string{
		"Writeback Agent",
		"Version 1.2.3",
		"Writeback Agent files clinicians' online-consultation outcomes into GP patient records.",
		"Open the tray icon for status.",
		"Close",
	} {
		found := false
		for _, s := range widgets {
			found = found || s == want
		}
		if !found {
			t.Errorf("no widget reads %q; widgets: %q", want, widgets)
		}
		// Each text must be drawn in full, not cut short or hidden.
		if !strings.Contains(rendered, want) {
			t.Errorf("%q is not drawn in full; drawn: %q", want, rendered)
		}
	}

	// The window must be big enough for its content.
	size, minSize := w.Canvas().Size(), w.Content().MinSize()
	if size.Width < minSize.Width || size.Height < minSize.Height {
		t.Errorf("window %v is smaller than its content %v", size, minSize)
	}
	if img := w.Canvas().Capture(); img.Bounds().Empty() {
		t.Error("the window renders to an empty image")
	}
}

func TestAboutDefaultVersion(t *testing.T) {
	test.NewTempApp(t)
	widgets, _ := texts(AboutContent("", func() {}))
	if !strings.Contains(strings.Join(widgets, "\n"), "Version dev") {
		t.Errorf("no \"Version dev\" among %q", widgets)
	}
}

func TestAboutClose(t *testing.T) {
	test.NewTempApp(t)
	closed := false
	content := AboutContent("1", func() { closed = true })
	for _, obj := range test.LaidOutObjects(test.NewWindow(content).Content()) {
		if b, ok := obj.(*widget.Button); ok && b.Text == "Close" {
			test.Tap(b)
		}
	}
	if !closed {
		t.Error("tapping Close did not call onClose")
	}
}
