// Package paths says where the service keeps its files: the operating system's folder for
// machine-wide program data, never the working directory, and makes sure that folder is
// readable only by the service and administrators.
package paths

import "fmt"

// Names inside the data folder.
const (
	ConfigFile  = "config.toml"  // the configuration IT edits
	InstallFile = "install.toml" // the values IT set at install (written by the installer)
	LogsDir     = "logs"         // the service's rotated log files
)

// DataDir returns the machine-wide data folder: %ProgramData%\WritebackAgent on Windows,
// /Library/Application Support/WritebackAgent on macOS, /var/lib/writeback-agent on Linux.
func DataDir() (string, error) {
	dir, err := dataDir()
	if err != nil {
		return "", fmt.Errorf("paths: data folder: %w", err)
	}
	return dir, nil
}

// Secure creates dir if it does not exist and restricts it to the service and
// administrators: SYSTEM and Administrators only (not inherited) on Windows, mode 0700 on
// Unix (the service runs as root there).
func Secure(dir string) error {
	if err := secure(dir); err != nil {
		return fmt.Errorf("paths: secure %s: %w", dir, err)
	}
	return nil
}
