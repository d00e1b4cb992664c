//go:build !windows

package seal

import "testing"

// testDir is a temporary folder removed after the test.
func testDir(t *testing.T) string { return t.TempDir() }
