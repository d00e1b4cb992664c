package queue

import (
	"archive/tar"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openWALFixture unpacks testdata/wal-format2.tar.gz, a data folder left by a crash of the
// build that had a write-ahead log in front of bbolt: records 1-3 in queue.db, and changes
// to records 2-5 only in the log. TestMakeWALFixture made it, in commit 3ca3e3e (the last
// with the log's code).
func openWALFixture(t *testing.T) (dir string, key []byte) {
	t.Helper()
	tmp := t.TempDir()
	if err := untar(filepath.Join("testdata", "wal-format2.tar.gz"), tmp); err != nil {
		t.Fatalf("untar fixture: %v", err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "wal-format2.key"))
	if err != nil {
		t.Fatal(err)
	}
	if key, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(tmp, "wal-format2"), key
}

// untar unpacks the gzipped tar archive at src into dir (folders and regular files only), in
// Go so that the Windows test build needs no tar program.
func untar(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(name, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("%s: outside the folder", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
				return err
			}
			out, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// A queue written by the build with the write-ahead log opens, its logged changes
// replayed once, and then runs on bbolt alone.
func TestAQueueWithALogFromTheOldFormatOpens(t *testing.T) {
	dir, key := openWALFixture(t)
	check := func(q *Queue) {
		t.Helper()
		want := map[uint64]State{1: Filed, 2: Filing, 3: NeedsConfirmation, 4: Received, 5: Rejected}
		for id, s := range want {
			r, err := q.Get(id)
			if err != nil {
				t.Fatalf("record %d: %v", id, err)
			}
			// The filing the crash interrupted is put back to ready at open, its outcome
			// flagged unknown: the claim was replayed.
			if id == 2 {
				if r.State != Ready || !r.OutcomeUnknown {
					t.Fatalf("record 2: %s, outcome unknown %v; want ready after an interrupted filing", r.State, r.OutcomeUnknown)
				}
				continue
			}
			if r.State != s {
				t.Fatalf("record %d in %s, want %s", id, r.State, s)
			}
		}
		for id, content := range map[uint64]string{3: "hello applied", 4: "hello logged"} {
			rc, err := q.OpenAttachment(id, 0)
			if err != nil {
				t.Fatalf("attachment of %d: %v", id, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(got) != content {
				t.Fatalf("attachment of %d: %q, %v", id, got, err)
			}
		}
		if got, err := q.LookupJob("job-logged-att"); err != nil || got != 4 {
			t.Fatalf("job of record 4: %d, %v", got, err)
		}
		if doc, err := q.Document(5); err != nil || doc.JobID != "job-logged-rejected" {
			t.Fatalf("document 5: %v, %v", doc, err)
		}
	}
	q, err := Open(Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	check(q)
	if _, err := q.Enqueue(ctx, Submission{Doc: doc("job-after-upgrade")}, system); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "wal")); len(entries) != 0 {
		t.Fatalf("log files left after the replay: %v", entries)
	}
	q, err = Open(Options{Dir: dir, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	check(q)
	if id, err := q.LookupJob("job-after-upgrade"); err != nil || id != 6 {
		t.Fatalf("record enqueued after the upgrade: %d, %v", id, err)
	}
}
