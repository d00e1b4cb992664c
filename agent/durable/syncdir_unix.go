//go:build !windows

package durable

import "os"

// SyncDir flushes a folder's entries (creations, renames, removals) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
