package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeSystem struct {
	mu    sync.Mutex
	lines []string
}

func (f *fakeSystem) add(kind string, v ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, kind+": "+fmt.Sprint(v...))
	return nil
}
func (f *fakeSystem) Info(v ...any) error    { return f.add("info", v...) }
func (f *fakeSystem) Warning(v ...any) error { return f.add("warning", v...) }
func (f *fakeSystem) Error(v ...any) error   { return f.add("error", v...) }

func TestRecordsGoToTheFileTheSystemLogAndTheConsole(t *testing.T) {
	dir := t.TempDir()
	sys := &fakeSystem{}
	var console bytes.Buffer
	log, closeFile, err := New(Options{Dir: dir, Level: slog.LevelDebug, MaxSizeMB: 1, MaxFiles: 2, System: sys, Console: &console})
	if err != nil {
		t.Fatal(err)
	}
	log = log.With("component", "test")
	log.Debug("detail", "n", 1)
	log.Info("started", "version", "1.2.3")
	log.Warn("lease expired", "records", 2)
	log.Error("commit failed", "err", "disk full")
	if err := closeFile(); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if rec["component"] != "test" {
			t.Errorf("attributes lost: %s", sc.Text())
		}
		msgs = append(msgs, rec["msg"].(string))
	}
	if got := strings.Join(msgs, ","); got != "detail,started,lease expired,commit failed" {
		t.Errorf("file has %s", got)
	}

	want := []string{
		"info: msg=started component=test version=1.2.3",
		"warning: msg=\"lease expired\" component=test records=2",
		"error: msg=\"commit failed\" component=test err=\"disk full\"",
	}
	if strings.Join(sys.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("system log:\n%s\nwant:\n%s", strings.Join(sys.lines, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(console.String(), "level=DEBUG msg=detail") {
		t.Errorf("console: %s", console.String())
	}
}

func TestTheFileRotatesBySize(t *testing.T) {
	dir := t.TempDir()
	log, closeFile, err := New(Options{Dir: dir, Level: slog.LevelInfo, MaxSizeMB: 1, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 1000)
	for range 3000 { // about 3 MB
		log.Info("filler", "pad", pad)
	}
	if err := closeFile(); err != nil {
		t.Fatal(err)
	}
	// lumberjack removes rotated files beyond MaxFiles in a goroutine of its own, which
	// closing the file does not wait for: allow it a few seconds.
	var entries []os.DirEntry
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if entries, err = os.ReadDir(dir); err != nil {
			t.Fatal(err)
		}
		if len(entries) <= 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(entries) < 2 || len(entries) > 3 {
		t.Errorf("%d files in the logs folder, want the current one and at most 2 rotated", len(entries))
	}
}
