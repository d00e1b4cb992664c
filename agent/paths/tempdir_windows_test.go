package paths

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// testDir is a temporary folder removed after the test. Under Wine 8, os.RemoveAll (and so
// t.TempDir's cleanup) fails with "Invalid function" (Go's RemoveAll deletes with a call Wine
// does not implement); os.Remove of each entry works.
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wbagent-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var all []string
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { all = append(all, p); return nil })
		slices.Reverse(all)
		for _, p := range all {
			os.Remove(p)
		}
	})
	return dir
}
