// Package durable writes files so that a crash or power cut leaves either the old content or
// the new, never a torn file: write to a temporary file, sync it, rename it over the target,
// sync the folder.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, created with perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("durable: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := writeSyncClose(tmp, data, perm); err != nil {
		return fmt.Errorf("durable: write %s: %w", path, err)
	}
	return Rename(tmp.Name(), path)
}

func writeSyncClose(f *os.File, data []byte, perm os.FileMode) error {
	if err := f.Chmod(perm); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Rename renames a fully written and synced file, then syncs the destination folder so the
// rename itself survives a crash.
func Rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("durable: rename %s: %w", filepath.Base(to), err)
	}
	if err := SyncDir(filepath.Dir(to)); err != nil {
		return fmt.Errorf("durable: sync folder of %s: %w", filepath.Base(to), err)
	}
	return nil
}
