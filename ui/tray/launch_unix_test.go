//go:build !windows

package tray

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenWindowStartsWbagentUI(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	script := "#!/bin/sh\necho \"$@\" > " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, UIProgram), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, w := range []Window{WindowReview, WindowAttention, WindowProblems, WindowAccount, WindowAbout} {
		os.Remove(out)
		if err := OpenWindow(w, os.Environ()); err != nil {
			t.Fatal(err)
		}
		var got []byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got, _ = os.ReadFile(out); len(got) > 0 {
				break
			}
		}
		if strings.TrimSpace(string(got)) != string(w) {
			t.Errorf("wbagent-ui started with %q, want %q", got, w)
		}
	}

	t.Setenv("PATH", t.TempDir())
	if err := OpenWindow(WindowAbout, os.Environ()); err == nil || !strings.Contains(err.Error(), UIProgram) {
		t.Errorf("without wbagent-ui: %v", err)
	}
}
