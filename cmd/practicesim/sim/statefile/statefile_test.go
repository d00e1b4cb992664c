package statefile

import (
	"os"
	"path/filepath"
	"testing"
)

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := Write(path, sample{"a", 1}); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, sample{"b", 2}); err != nil {
		t.Fatal(err)
	}
	var got sample
	found, err := Read(path, &got)
	if err != nil || !found {
		t.Fatalf("Read = %v, %v", found, err)
	}
	if got != (sample{"b", 2}) {
		t.Errorf("got %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestReadMissingOrUnpersisted(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "absent.json")} {
		var v sample
		found, err := Read(path, &v)
		if found || err != nil {
			t.Errorf("Read(%q) = %v, %v; want false, nil", path, found, err)
		}
	}
	if err := Write("", sample{}); err != nil {
		t.Errorf("Write to empty path: %v", err)
	}
}

func TestReadCorruptFileFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var v sample
	if _, err := Read(path, &v); err == nil {
		t.Error("want an error for a corrupt file")
	}
}
