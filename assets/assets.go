// Package assets embeds Writeback Agent's icons: the tray icon for each
// state the service can report, and the application icon.
//
// The image files in icons/ are drawn by the program in gen/; run
// `go generate ./assets` (or `go run ./assets/gen` from the repository
// root) after changing it and commit the regenerated files.
//
// The tray icons differ in shape as well as colour, so that people who
// cannot tell red from green can still read them:
//
//	StateOK         green circle with a tick
//	StateAttention  amber triangle with an exclamation mark
//	StateBlocked    red square with a cross
//	StateOffline    grey hollow circle
//
// Every function returns a slice that lives as long as the program and is
// shared between callers, so native code may keep reading it after the call
// (getlantern/systray hands it to GTK asynchronously). Callers must not
// modify it.
package assets

//go:generate go run ./gen -o icons

import (
	"embed"
	"fmt"
	"io/fs"
)

// Tray states, in increasing order of concern except for StateOffline, which
// means the tray cannot reach the service and so knows nothing.
const (
	StateOK        = "ok"
	StateAttention = "attention"
	StateBlocked   = "blocked"
	StateOffline   = "offline"
)

// TrayPNGSizes are the pixel sizes of the tray icons available from TrayPNG.
var TrayPNGSizes = []int{16, 32, 64}

//go:embed icons/*.png icons/*.ico
var iconFS embed.FS

// files holds every embedded file, read once so the returned slices are
// never garbage-collected.
var files = func() map[string][]byte {
	m := make(map[string][]byte)
	err := fs.WalkDir(iconFS, "icons", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := iconFS.ReadFile(path)
		if err != nil {
			return err
		}
		m[d.Name()] = data
		return nil
	})
	if err != nil {
		panic("assets: reading embedded icons: " + err.Error())
	}
	return m
}()

// TrayStates returns the tray states that have icons, from best to worst,
// then StateOffline.
func TrayStates() []string {
	return []string{StateOK, StateAttention, StateBlocked, StateOffline}
}

// knownState returns state if it has icons and StateOffline otherwise, so an
// unexpected state never shows a reassuring icon.
func knownState(state string) string {
	switch state {
	case StateOK, StateAttention, StateBlocked, StateOffline:
		return state
	}
	return StateOffline
}

// TrayIcon returns the tray icon for state in the format the platform's
// notification area wants: a multi-size ICO file on Windows, a 64 px PNG
// elsewhere (the desktop scales it to the panel). An unknown state gets
// the StateOffline icon.
func TrayIcon(state string) []byte {
	return files[trayIconFile(knownState(state))]
}

// TrayPNG returns the tray icon for state as a PNG of size×size pixels,
// where size is one of TrayPNGSizes, or nil for any other size. An unknown
// state gets the StateOffline icon.
func TrayPNG(state string, size int) []byte {
	return files[fmt.Sprintf("tray-%s-%d.png", knownState(state), size)]
}

// TrayICO returns the tray icon for state as a Windows ICO file holding
// sizes from 16 to 64 px. An unknown state gets the StateOffline icon.
func TrayICO(state string) []byte {
	return files["tray-"+knownState(state)+".ico"]
}

// AppIcon returns the application icon as a 256×256 PNG, for window icons
// and desktop entries.
func AppIcon() []byte {
	return files["app-256.png"]
}

// AppIconICO returns the application icon as a Windows ICO file holding
// sizes from 16 to 256 px, for executables and shortcuts.
func AppIconICO() []byte {
	return files["app.ico"]
}
