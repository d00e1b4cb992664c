//go:build !windows

package paths

import "testing"

// testDir is a temporary folder removed after the test.
func testDir(t *testing.T) string { return t.TempDir() }
