// Package tray shows Writeback Agent's icon in the notification area (the
// system tray on Windows, the menu bar on macOS, an AppIndicator on Linux)
// using getlantern/systray.
//
// It deliberately uses no Fyne or OpenGL, so the tray keeps working where
// OpenGL does not, such as over remote desktop; windows are opened by the
// separate wbagent-ui program.
//
// The icon and menu are driven by a State: call Apply whenever the service
// reports a change, from any goroutine, before or after Run. Until the
// first Apply the tray shows Offline. ViewOf is the pure mapping from a
// State to what appears, for tests and for other front ends.
package tray

import (
	"sync"

	"github.com/getlantern/systray"
)

var (
	mu      sync.Mutex
	current = State{Status: Offline}
	// statusItem is the menu's status line; nil while the tray is not
	// running.
	statusItem *systray.MenuItem
)

// Run shows the tray icon and blocks until Quit is called or the user
// chooses Quit from the menu. It must be called from the main goroutine
// (systray locks it to the main OS thread, which macOS requires) and only
// once per process.
func Run() {
	systray.Run(onReady, onExit)
}

// Quit removes the tray icon and makes Run return. It may be called from
// any goroutine.
func Quit() {
	systray.Quit()
}

// Apply shows s in the tray. It may be called from any goroutine, before or
// while Run runs.
func Apply(s State) {
	mu.Lock()
	defer mu.Unlock()
	current = s
	if statusItem != nil {
		show(ViewOf(s))
	}
}

// show puts v on screen. mu must be held and the tray running.
func show(v View) {
	systray.SetIcon(v.Icon)
	systray.SetTooltip(v.Tooltip)
	statusItem.SetTitle(v.Title)
}

func onReady() {
	mu.Lock()
	defer mu.Unlock()

	statusItem = systray.AddMenuItem("", "")
	statusItem.Disable()
	systray.AddSeparator()
	quit := systray.AddMenuItem("Quit", "Remove this icon; the Writeback Agent service keeps filing")
	show(ViewOf(current))

	go func() {
		<-quit.ClickedCh
		systray.Quit()
	}()
}

func onExit() {
	mu.Lock()
	defer mu.Unlock()
	statusItem = nil
}
