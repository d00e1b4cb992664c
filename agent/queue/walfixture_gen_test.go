package queue

import (
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

// TestMakeWALFixture wrote testdata/wal-format2.tar.gz with the build that had the
// write-ahead log (commit b00d95f): a data folder as a crash leaves it with
// this build, some changes in queue.db and the rest only in the write-ahead log.
// Run with WBAGENT_MAKE_WAL_FIXTURE=1.
func TestMakeWALFixture(t *testing.T) {
	if os.Getenv("WBAGENT_MAKE_WAL_FIXTURE") == "" {
		t.Skip("set WBAGENT_MAKE_WAL_FIXTURE=1 to write testdata/wal-format2")
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	f := newFixture(t, func(o *Options) { o.Key = key })
	f.waitSpare()
	must := func(_ *Record, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// In bbolt: 1 filed, 2 ready, 3 received with an attachment.
	f.to(Filed)
	f.to(Ready)
	d := doc("job-applied-att")
	d.Attachments = []writeback.Attachment{{FileName: "a.txt", MediaType: "text/plain", DataBase64: "aGVsbG8gYXBwbGllZA=="}} // "hello applied"
	if _, err := f.q.Enqueue(ctx, Submission{Doc: d}, system); err != nil {
		t.Fatal(err)
	}
	if err := f.q.applyNow(); err != nil {
		t.Fatal(err)
	}
	release := stallApplier(f.q)
	defer release()
	// Only in the log: 2 claimed (filing), 3 checked (needs-confirmation), 4 new with an
	// attachment, 5 new and rejected.
	c, err := f.q.Claim(ctx, ClaimRequest{Owner: "fixture", Lease: time.Hour, Eligible: func(string) bool { return true }})
	if err != nil || c.ID != 2 {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	must(f.q.MarkChecked(ctx, 3, system))
	d = doc("job-logged-att")
	d.Attachments = []writeback.Attachment{{FileName: "b.txt", MediaType: "text/plain", DataBase64: "aGVsbG8gbG9nZ2Vk"}} // "hello logged"
	if _, err := f.q.Enqueue(ctx, Submission{Doc: d}, system); err != nil {
		t.Fatal(err)
	}
	id := f.enqueue("job-logged-rejected")
	must(f.q.MarkChecked(ctx, id, system))
	must(f.q.Reject(ctx, id, "not needed", system))

	tmp := t.TempDir()
	copyTree(t, f.dir, filepath.Join(tmp, "wal-format2"))
	abs, _ := filepath.Abs(filepath.Join("testdata", "wal-format2.tar.gz"))
	if out, err := exec.Command("tar", "czf", abs, "-C", tmp, "wal-format2").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join("testdata", "wal-format2.key"), []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
