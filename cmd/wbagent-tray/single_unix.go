//go:build !windows

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// claimSession returns false if another tray already runs in this desktop session (this
// user and this display). The claim is a lock on a file in the user's runtime folder
// ($XDG_RUNTIME_DIR, else the temporary folder) and lasts as long as the process.
func claimSession() (bool, error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	display := strings.NewReplacer("/", "_", ":", "_").Replace(os.Getenv("DISPLAY") + os.Getenv("WAYLAND_DISPLAY"))
	path := filepath.Join(dir, fmt.Sprintf("wbagent-tray-%d-%s.lock", os.Getuid(), display))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return true, fmt.Errorf("single instance: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return true, fmt.Errorf("single instance: %w", err)
	}
	lockFile = f // kept open (and locked) until the process ends
	return true, nil
}

// lockFile holds the session's lock.
var lockFile *os.File
