//go:build !windows

package assets

// trayIconFile names the embedded file TrayIcon returns: macOS and the Linux
// AppIndicator load PNG data and scale it to the menu bar or panel, so the
// largest size keeps it sharp on high-DPI screens.
func trayIconFile(state string) string {
	return "tray-" + state + "-64.png"
}
