//go:build !windows && !darwin

package seal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKeyIsStableAndPrivate(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: %v, same=%v", err, bytes.Equal(k1, k2))
	}
	path := filepath.Join(dir, keyFileName)
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("world-readable key file accepted")
	}
}
