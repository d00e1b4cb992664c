//go:build !windows

package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// instancePath is this user's instance socket, in a folder only they may enter:
// $XDG_RUNTIME_DIR, else a private folder in the temporary folder.
func instancePath() (string, error) {
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("wbagent-ui-%d", os.Getuid()))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("instance folder: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 && os.Getenv("XDG_RUNTIME_DIR") == "" {
		return "", fmt.Errorf("instance folder %s is not private to this user", dir)
	}
	return filepath.Join(dir, "wbagent-ui.sock"), nil
}
