package dropfolder

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/writeback-agent/wbagent/agent/internal/wine"
)

// The no-follow open reads a file of its own, and refuses a folder, a file with another
// name (hard link) and a symbolic link, without reading through them.
func TestWindowsOpenFileRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "a.json")
	if err := os.WriteFile(plain, []byte(`{}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := openFile(plain)
	if err != nil {
		t.Fatalf("a plain file: %v", err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != `{}` {
		t.Errorf("read %q", b)
	}
	if _, err := openFile(dir); !errors.Is(err, errLink) {
		t.Errorf("a folder: %v", err)
	}
	if err := os.Link(plain, filepath.Join(dir, "hard.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := openFile(filepath.Join(dir, "hard.json")); !errors.Is(err, errLink) {
		t.Errorf("a hard link: %v", err)
	}
	if err := os.Symlink(plain, filepath.Join(dir, "sym.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sym.json")); err != nil && wine.Detected() {
		t.Skip("Wine 8's CreateSymbolicLinkW reports success and creates nothing: symbolic links are covered by TestDropFolderRefusesLinks on Unix")
	}
	if _, err := openFile(filepath.Join(dir, "sym.json")); !errors.Is(err, errLink) {
		t.Errorf("a symbolic link: %v", err)
	}
	if link, err := isLink(filepath.Join(dir, "sym.json")); err != nil || !link {
		t.Errorf("isLink(symbolic link) = %t, %v", link, err)
	}
}
