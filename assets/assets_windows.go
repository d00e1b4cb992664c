package assets

// trayIconFile names the embedded file TrayIcon returns: Windows' notification
// area loads ICO files and picks the size that suits the display scaling.
func trayIconFile(state string) string {
	return "tray-" + state + ".ico"
}
