package tray

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PrefsFile is the tray's preferences file, under the user's configuration folder
// (os.UserConfigDir: %AppData% on Windows, ~/Library/Application Support on macOS,
// $XDG_CONFIG_HOME or ~/.config on Linux). Serialised: never change it.
const PrefsFile = "WritebackAgent/tray.json"

// PrefsPath returns where this user's tray preferences are kept.
func PrefsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("tray: find the preferences folder: %w", err)
	}
	return filepath.Join(dir, filepath.FromSlash(PrefsFile)), nil
}

// LoadPrefs reads the preferences at path. A missing file gives the defaults (notifications
// on); an unreadable one gives the defaults and an error to log.
func LoadPrefs(path string) (Prefs, error) {
	var p Prefs
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return Prefs{}, fmt.Errorf("tray: read preferences: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return Prefs{}, fmt.Errorf("tray: read preferences %s: %w", path, err)
	}
	return p, nil
}

// SavePrefs writes p to path, replacing the file whole so a crash never leaves half of it.
func SavePrefs(path string, p Prefs) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("tray: save preferences: %w", err)
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tray-*.json")
	if err != nil {
		return fmt.Errorf("tray: save preferences: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tray: save preferences: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tray: save preferences: %w", err)
	}
	return nil
}
