// Package statefile reads and writes the simulator's JSON state files. Writes
// are atomic: the data goes to a temporary file in the same folder, is synced
// to disk and then renamed over the old file, so a crash leaves either the old
// or the new content, never a torn file.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Write stores v as indented JSON at path, atomically. An empty path means
// "not persisted" and does nothing.
func Write(path string, v any) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("statefile: encode %s: %w", filepath.Base(path), err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("statefile: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("statefile: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("statefile: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("statefile: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("statefile: replace %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// Read loads the JSON at path into v. It reports false, and no error, when
// the path is empty or the file does not exist yet.
func Read(path string, v any) (bool, error) {
	if path == "" {
		return false, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("statefile: read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("statefile: decode %s: %w", path, err)
	}
	return true, nil
}

// syncDir makes the rename durable where the platform allows it. Windows
// cannot sync a directory; there the rename is as durable as it gets, so this
// is best effort.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	defer d.Close()
	_ = d.Sync()
}
