// Package windows builds Writeback Agent's Fyne windows, which the
// wbagent-ui program opens on demand (the tray itself uses no Fyne, so it
// keeps working where OpenGL does not).
//
// Constructors take a fyne.App rather than creating one, and the package
// does not import fyne.io/fyne/v2/app, so its windows can be tested with
// fyne.io/fyne/v2/test and no cgo or display.
package windows

import (
	"sync"

	"fyne.io/fyne/v2"

	"github.com/writeback-agent/wbagent/assets"
)

// ProductName is the name shown to people.
const ProductName = "Writeback Agent"

// AppIcon is the application icon, for fyne.App.SetIcon and window icons.
var AppIcon fyne.Resource = fyne.NewStaticResource("wbagent.png", assets.AppIcon())

// closedHooks are the functions WhenClosed added, per window.
var closedHooks sync.Map // fyne.Window → *[]func()

// WhenClosed makes f run after window w (one of this package's) closes, after the window's
// own clean-up.
func WhenClosed(w fyne.Window, f func()) {
	v, _ := closedHooks.LoadOrStore(w, &[]func(){})
	hooks := v.(*[]func())
	*hooks = append(*hooks, f)
}

// setOnClosed sets w's clean-up, followed by the WhenClosed hooks.
func setOnClosed(w fyne.Window, cleanUp func()) {
	w.SetOnClosed(func() {
		cleanUp()
		if v, ok := closedHooks.LoadAndDelete(w); ok {
			for _, f := range *v.(*[]func()) {
				f()
			}
		}
	})
}
