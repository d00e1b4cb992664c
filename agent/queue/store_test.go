package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

func TestEnqueueIsIdempotentOnJobID(t *testing.T) {
	f := newFixture(t)
	r1, err := f.q.Enqueue(ctx, Submission{Doc: doc("job-1")}, system)
	if err != nil || !r1.Created {
		t.Fatalf("first: %+v, %v", r1, err)
	}
	r2, err := f.q.Enqueue(ctx, Submission{Doc: doc("job-1")}, system)
	if err != nil || r2.Created || r2.ID != r1.ID || r2.Conflict {
		t.Fatalf("same again: %+v, %v", r2, err)
	}
	changed := doc("job-1")
	changed.Summary = "something else"
	r3, err := f.q.Enqueue(ctx, Submission{Doc: changed}, system)
	if err != nil || r3.Created || r3.ID != r1.ID || !r3.Conflict {
		t.Fatalf("changed content: %+v, %v", r3, err)
	}
	if got, _ := f.q.Document(r1.ID); got.Summary != doc("job-1").Summary {
		t.Fatal("the first version was not kept")
	}
	counts, _ := f.q.Counts()
	if counts[Received] != 1 {
		t.Fatalf("counts %v", counts)
	}
	// Even concurrently, in one batch and across batches, one job is one record.
	var wg sync.WaitGroup
	ids := make(chan uint64, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.q.Enqueue(ctx, Submission{Doc: doc("job-2")}, system)
			if err != nil {
				t.Error(err)
			}
			ids <- r.ID
		}()
	}
	wg.Wait()
	close(ids)
	first := <-ids
	for id := range ids {
		if id != first {
			t.Fatalf("job-2 has records %d and %d", first, id)
		}
	}
	res, err := f.q.EnqueueBatch(ctx, []Submission{{Doc: doc("job-3")}, {Doc: doc("job-3")}}, system)
	if err != nil || res[0].ID != res[1].ID || !res[0].Created || res[1].Created {
		t.Fatalf("duplicate inside a batch: %+v, %v", res, err)
	}
}

// A job sent again is compared with what is stored, attachments included, whether the body
// was written by this build or by one that stored a digest of it (encBodyV1).
func TestAJobSentAgainIsComparedWithTheStoredContent(t *testing.T) {
	withAttachment := func(job, content string) *writeback.Writeback {
		d := doc(job)
		d.Attachments = []writeback.Attachment{{FileName: "f.txt", MediaType: "text/plain",
			DataBase64: base64.StdEncoding.EncodeToString([]byte(content))}}
		return d
	}
	changedSummary := func(job, content string) *writeback.Writeback {
		d := withAttachment(job, content)
		d.Summary += " And dizziness."
		return d
	}
	for _, earlierBuild := range []bool{false, true} {
		t.Run(fmt.Sprintf("earlier build %v", earlierBuild), func(t *testing.T) {
			f := newFixture(t)
			first, err := f.q.Enqueue(ctx, Submission{Doc: withAttachment("job-1", "hello")}, system)
			if err != nil {
				t.Fatal(err)
			}
			if earlierBuild {
				// Rewrite the stored body as a build before encBodyV2 wrote it.
				d := withAttachment("job-1", "hello")
				d.Attachments[0].SHA256 = sha256Of("hello")
				d.Attachments[0].DataBase64 = ""
				key := recordKey(first.ID, kindBody)
				pt := appendBodyV1(nil, v1Digest(d), d)
				if err := f.q.db.Update(func(tx *bolt.Tx) error {
					return tx.Bucket(bucketRecords).Put(key, f.q.sealer.Seal(nil, pt, ad(key)))
				}); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range []struct {
				name     string
				doc      *writeback.Writeback
				conflict bool
			}{
				{"the same", withAttachment("job-1", "hello"), false},
				{"another attachment", withAttachment("job-1", "hullo"), true},
				{"another summary", changedSummary("job-1", "hello"), true},
			} {
				res, err := f.q.Enqueue(ctx, Submission{Doc: c.doc}, system)
				if err != nil || res.Created || res.ID != first.ID || res.Conflict != c.conflict {
					t.Errorf("%s sent again: %+v, %v; want conflict %v", c.name, res, err, c.conflict)
				}
			}
		})
	}
}

func sha256Of(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestBatchIsAllOrNothing(t *testing.T) {
	f := newFixture(t)
	bad := doc("")
	_, err := f.q.EnqueueBatch(ctx, []Submission{{Doc: doc("a")}, {Doc: bad}, {Doc: doc("b")}}, system)
	if err == nil {
		t.Fatal("batch with an invalid document accepted")
	}
	if counts, _ := f.q.Counts(); counts[Received] != 0 {
		t.Fatalf("half a batch stored: %v", counts)
	}
	res, err := f.q.EnqueueBatch(ctx, []Submission{{Doc: doc("a")}, {Doc: doc("b")}}, system)
	if err != nil || len(res) != 2 || !res[0].Created || !res[1].Created {
		t.Fatalf("%+v, %v", res, err)
	}
}

// A failing operation in a group commit must not take the others down with it.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	f := newFixture(t)
	var ids []uint64
	for i := 0; i < 20; i++ {
		ids = append(ids, f.to(NeedsConfirmation))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for _, id := range ids {
		for j := 0; j < 3; j++ { // three clinicians confirm the same record at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.q.Confirm(ctx, id, ConfirmOptions{}, system)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrIllegalTransition):
					refused++
				default:
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	if ok != len(ids) || refused != 2*len(ids) {
		t.Fatalf("%d confirmed, %d refused; want %d and %d", ok, refused, len(ids), 2*len(ids))
	}
}

func TestAuditTrailRecordsWhoDidWhat(t *testing.T) {
	f := newFixture(t)
	id := f.to(Filed)
	var actions []string
	err := f.q.Audit(0, id, func(e AuditEntry) error {
		actions = append(actions, fmt.Sprintf("%s %s→%s", e.Action, e.From, e.To))
		if e.At.IsZero() || e.RecordID != id || e.JobID == "" {
			t.Errorf("incomplete entry %+v", e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"enqueued →received", "checked received→needs-confirmation", "confirmed needs-confirmation→ready",
		"claimed ready→filing", "filed filing→filed"}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(want, "\n"))
	}
}

// The canary test of the issue: patient data never appears in the raw database file or the
// attachment files, and a ciphertext moved to another record is detected.
func TestPatientDataIsEncryptedAtRest(t *testing.T) {
	f := newFixture(t)
	d := doc("job-canary")
	// Long and repetitive, so the body is compressed before it is sealed (compressBody).
	d.Summary = strings.Repeat(d.Summary+" ", 40)
	d.Attachments = []writeback.Attachment{{FileName: canaryFamily + ".txt", MediaType: "text/plain",
		DataBase64: base64.StdEncoding.EncodeToString([]byte(strings.Repeat("NHS "+canaryNHS+" "+canaryFamily+"\n", 1000)))}}
	res, err := f.q.Enqueue(ctx, Submission{Doc: d}, system)
	if err != nil {
		t.Fatal(err)
	}
	other := f.enqueue("job-other")
	if _, err := f.q.NeedsAttention(ctx, res.ID, Reason{Code: "surname-mismatch",
		Text: "The surname in the request (" + canaryFamily + ") does not match the record"}, system); err != nil {
		t.Fatal(err)
	}
	f.q.Close()
	for _, path := range allFiles(t, f.dir) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, canary := range []string{canaryNHS, canaryFamily, canaryGiven, "headaches", "Hypertension"} {
			if bytes.Contains(raw, []byte(canary)) {
				t.Errorf("%s contains %q in clear", filepath.Base(path), canary)
			}
		}
	}

	// Swap the two records' sealed bodies in the raw file.
	db, err := bolt.Open(filepath.Join(f.dir, DBFileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		for _, kind := range []byte{kindBody, kindRecord} {
			v1 := bytes.Clone(b.Get(recordKey(res.ID, kind)))
			v2 := bytes.Clone(b.Get(recordKey(other, kind)))
			b.Put(recordKey(res.ID, kind), v2)
			b.Put(recordKey(other, kind), v1)
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f.open() // a damaged record must not stop the queue opening
	if got := f.q.Unreadable(); len(got) != 2 {
		t.Fatalf("unreadable records %v, want both swapped ones", got)
	}
	if _, err := f.q.Document(res.ID); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("swapped body: %v, want ErrTampered", err)
	}
	if _, err := f.q.Get(other); !errors.Is(err, seal.ErrTampered) {
		t.Fatalf("swapped record: %v, want ErrTampered", err)
	}
}

func allFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if len(out) < 2 {
		t.Fatalf("expected the database and attachment files, found %v", out)
	}
	return out
}

func TestOpenWithTheWrongKeyFailsClearly(t *testing.T) {
	f := newFixture(t)
	f.enqueue("job-1")
	f.q.Close()
	f.opts.Key = testKey(t)
	if _, err := Open(f.opts); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("wrong key: %v, want ErrUnreadable", err)
	}
	f.opts.Key = f.key
	f.open()
}

func TestSecondOpenTimesOutWithAClearError(t *testing.T) {
	f := newFixture(t)
	start := time.Now()
	_, err := Open(f.opts)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "stop the other agent") {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) < f.opts.LockTimeout/2 {
		t.Fatalf("gave up after %v, before the lock timeout", time.Since(start))
	}
}

func TestAttachmentsRoundTripAndTampering(t *testing.T) {
	f := newFixture(t)
	content := make([]byte, 300_000)
	rand.Read(content)
	d := doc("job-att")
	d.Attachments = []writeback.Attachment{
		{FileName: "a.bin", MediaType: "application/octet-stream", DataBase64: base64.StdEncoding.EncodeToString(content)},
		{FileName: "b.txt", MediaType: "text/plain", DataBase64: base64.StdEncoding.EncodeToString([]byte("hello"))},
	}
	res, err := f.q.Enqueue(ctx, Submission{Doc: d}, system)
	if err != nil {
		t.Fatal(err)
	}
	read := func(i int) ([]byte, error) {
		rc, err := f.q.OpenAttachment(res.ID, i)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if got, err := read(0); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("attachment 0: %d bytes, %v", len(got), err)
	}
	r, _ := f.q.Get(res.ID)
	sum := sha256.Sum256(content)
	if r.Attachments[0].Size != int64(len(content)) || !bytes.Equal(r.Attachments[0].SHA256, sum[:]) {
		t.Fatalf("ref %+v", r.Attachments[0])
	}
	// Swap the two files: each is bound to its record and position.
	p0 := filepath.Join(f.dir, BlobsDir, blobName(res.ID, 0))
	p1 := filepath.Join(f.dir, BlobsDir, blobName(res.ID, 1))
	os.Rename(p0, p0+".x")
	os.Rename(p1, p0)
	os.Rename(p0+".x", p1)
	for i := range 2 {
		if _, err := read(i); !errors.Is(err, seal.ErrTampered) {
			t.Fatalf("swapped attachment %d: %v, want ErrTampered", i, err)
		}
	}
}

// Streaming a 20 MB attachment through a Stage must not hold it in memory.
func TestLargeAttachmentIsStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20 MB")
	}
	f := newFixture(t)
	const size = writeback.MaxAttachmentBytes
	st := f.q.NewStage()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w, err := st.Create(0)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	chunk := make([]byte, 32<<10)
	for written := 0; written < size; written += len(chunk) {
		rand.Read(chunk)
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d := doc("job-big")
	d.Attachments = []writeback.Attachment{{FileName: "scan.pdf", MediaType: "application/pdf", Size: size, SHA256: h.Sum(nil)}}
	res, err := f.q.Enqueue(ctx, Submission{Doc: d, Stage: st}, system)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("staging and enqueueing a %d-byte attachment allocated %d bytes", size, alloc)
	}
	rc, err := f.q.OpenAttachment(res.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil || n != size {
		t.Fatalf("read back %d bytes, %v", n, err)
	}
}

func TestOrphanedAttachmentsAreSweptAtOpen(t *testing.T) {
	f := newFixture(t)
	st := f.q.NewStage()
	w, _ := st.Create(0)
	w.Write([]byte("never enqueued"))
	w.Close()
	half, _ := st.Create(1) // a crash mid-write leaves a .tmp
	half.Write([]byte("x"))
	// The crash: the process's handle goes (as the OS closes it), the .tmp stays. Windows
	// refuses to delete a file its own process still holds open.
	half.(*blobWriter).f.Close()
	kept := f.to(Received)
	d := doc("job-with-file")
	d.Attachments = []writeback.Attachment{{FileName: "f", MediaType: "text/plain", DataBase64: "aGk="}}
	res, _ := f.q.Enqueue(ctx, Submission{Doc: d}, system)
	f.reopen()
	entries, _ := os.ReadDir(filepath.Join(f.dir, BlobsDir))
	if len(entries) != 1 || entries[0].Name() != blobName(res.ID, 0) {
		t.Fatalf("blobs after sweep: %v", entries)
	}
	_ = kept
}

func TestDuplicateEnqueueDiscardsItsStagedFiles(t *testing.T) {
	f := newFixture(t)
	d := doc("job-dup")
	d.Attachments = []writeback.Attachment{{FileName: "f", MediaType: "text/plain", DataBase64: "aGk="}}
	f.q.Enqueue(ctx, Submission{Doc: d}, system)
	f.q.Enqueue(ctx, Submission{Doc: d}, system)
	if entries, _ := os.ReadDir(filepath.Join(f.dir, BlobsDir)); len(entries) != 1 {
		t.Fatalf("blobs: %v", entries)
	}
}

func TestRetentionWipesPatientContentAndKeepsTombstone(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Retention = 24 * time.Hour })
	d := doc("job-old")
	d.Attachments = []writeback.Attachment{{FileName: canaryFamily + ".txt", MediaType: "text/plain", DataBase64: "aGk="}}
	res, _ := f.q.Enqueue(ctx, Submission{Doc: d}, system)
	f.q.MarkChecked(ctx, res.ID, system)
	f.q.Reject(ctx, res.ID, "Patient "+canaryFamily+" asked us not to", system)
	filed := f.to(Filed)
	pending := f.to(NeedsConfirmation)

	f.clock.Advance(23 * time.Hour)
	if n, _ := f.q.WipeExpired(ctx); n != 0 {
		t.Fatalf("wiped %d before retention", n)
	}
	f.clock.Advance(2 * time.Hour)
	if n, err := f.q.WipeExpired(ctx); n != 2 || err != nil {
		t.Fatalf("wiped %d, %v; want 2", n, err)
	}
	for _, id := range []uint64{res.ID, filed} {
		if _, err := f.q.Document(id); !errors.Is(err, ErrWiped) {
			t.Fatalf("record %d document: %v, want ErrWiped", id, err)
		}
		r, err := f.q.Get(id)
		if err != nil || r.WipedAt.IsZero() || r.JobID == "" {
			t.Fatalf("tombstone %d: %+v, %v", id, r, err)
		}
	}
	r, _ := f.q.Get(res.ID)
	if r.State != Rejected || r.Reason.Code != "rejected" || r.Reason.Text != "" || r.Attachments[0].FileName != "" {
		t.Fatalf("tombstone keeps patient content: %+v", r)
	}
	if _, err := f.q.Document(pending); err != nil {
		t.Fatalf("pending record wiped: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(f.dir, BlobsDir)); len(entries) != 0 {
		t.Fatalf("attachment files left: %v", entries)
	}
	counts, _ := f.q.Counts()
	if counts[Rejected] != 1 || counts[Filed] != 1 || counts[NeedsConfirmation] != 1 {
		t.Fatalf("counts changed by wiping: %v", counts)
	}
	found := false
	f.q.Audit(0, res.ID, func(e AuditEntry) error { found = found || e.Action == ActionWiped; return nil })
	if !found {
		t.Fatal("wipe not audited")
	}
}

func TestHousekeeperWipesAndRecoversOnItsOwn(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Retention = time.Millisecond; o.Now = time.Now })
	id := f.to(Filed)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := f.q.Document(id); errors.Is(err, ErrWiped) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention wipe did not happen by itself")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.to(Ready)
	c, _ := f.q.Claim(ctx, ClaimRequest{Owner: "x", Lease: 20 * time.Millisecond})
	for {
		r, _ := f.q.Get(c.ID)
		if r.State == Ready && r.OutcomeUnknown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired lease not recovered: %s", r.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := f.q.MarkFiled(ctx, c.Ticket, FilingOutcome{}); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("filing after the lease expired: %v", err)
	}
}

func TestRestartRecoversInterruptedFilings(t *testing.T) {
	f := newFixture(t)
	id := f.to(Filing)
	f.reopen()
	r, _ := f.q.Get(id)
	if r.State != Ready || !r.OutcomeUnknown || r.Lease != nil {
		t.Fatalf("after restart: %+v", r)
	}
	last := r.Attempts[len(r.Attempts)-1]
	if last.Detail != OutcomeUnknownFix {
		t.Fatalf("attempt note %q", last.Detail)
	}
}

func TestCompactionShrinksTheFileAndKeepsEverything(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CompactMinFreeBytes, o.CompactMinFreeRatio = 1, 0.2 })
	var keep []uint64
	for i := 0; i < 400; i++ {
		id := f.to(Filed)
		if i%50 == 0 {
			keep = append(keep, id)
		}
	}
	f.clock.Advance(DefaultRetention + time.Hour)
	f.q.WipeExpired(ctx)
	before, _ := os.Stat(f.q.Path())
	did, err := f.q.CompactIfWorthwhile()
	if err != nil || !did {
		t.Fatalf("compact: %v, %v", did, err)
	}
	after, _ := os.Stat(f.q.Path())
	if after.Size() >= before.Size() {
		t.Fatalf("file %d → %d bytes", before.Size(), after.Size())
	}
	for _, id := range keep {
		if r, err := f.q.Get(id); err != nil || r.State != Filed {
			t.Fatalf("record %d after compaction: %v", id, err)
		}
	}
	var lastSeq uint64
	f.q.Audit(0, 0, func(e AuditEntry) error { lastSeq = e.Seq; return nil })
	id := f.to(Received)
	f.q.Audit(lastSeq, 0, func(e AuditEntry) error {
		if e.Seq != lastSeq+1 || e.RecordID != id {
			t.Fatalf("audit after compaction: %+v (last was %d)", e, lastSeq)
		}
		return nil
	})
	f.reopen()
	if counts, _ := f.q.Counts(); counts[Filed] != 400 || counts[Received] != 1 {
		t.Fatalf("counts after compaction and reopen: %v", counts)
	}
}

func TestListAndEach(t *testing.T) {
	f := newFixture(t)
	a := f.to(NeedsAttention)
	f.to(Received)
	f.to(Filed)
	recs, err := f.q.List(Filter{States: []State{NeedsAttention, Received}})
	if err != nil || len(recs) != 2 || recs[0].ID != a {
		t.Fatalf("list: %v, %v", recs, err)
	}
	if recs, _ := f.q.List(Filter{Author: "someone-else"}); len(recs) != 0 {
		t.Fatalf("author filter: %v", recs)
	}
	if recs, _ := f.q.List(Filter{Limit: 2}); len(recs) != 2 {
		t.Fatalf("limit: %d", len(recs))
	}
	if id, err := f.q.LookupJob(recs[0].JobID); err != nil || id != recs[0].ID {
		t.Fatalf("lookup: %d, %v", id, err)
	}
	if _, err := f.q.LookupJob("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup missing: %v", err)
	}
}

func TestOperationsAfterCloseFail(t *testing.T) {
	f := newFixture(t)
	f.q.Close()
	if _, err := f.q.Enqueue(ctx, Submission{Doc: doc("x")}, system); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after close: %v", err)
	}
	if _, err := f.q.Get(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
	f.open()
}

// The intake path: a document decoded straight into a Stage, attachments never in memory.
func TestDecodeIntoStageThenEnqueue(t *testing.T) {
	f := newFixture(t)
	raw, err := os.ReadFile("../../docs/examples/writeback.json")
	if err != nil {
		t.Fatal(err)
	}
	st := f.q.NewStage()
	d, err := writeback.Decode(bytes.NewReader(raw), st)
	if err != nil {
		st.Discard()
		t.Fatal(err)
	}
	res, err := f.q.Enqueue(ctx, Submission{Doc: d, Stage: st}, system)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := writeback.DecodeBytes(raw)
	rc, err := f.q.OpenAttachment(res.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	wantBytes, _ := base64.StdEncoding.DecodeString(want.Attachments[0].DataBase64)
	if err != nil || !bytes.Equal(got, wantBytes) {
		t.Fatalf("attachment: %d bytes, %v", len(got), err)
	}
	stored, _ := f.q.Document(res.ID)
	if stored.Patient != want.Patient || stored.Attachments[0].DataBase64 != "" {
		t.Fatalf("stored document differs: %+v", stored.Patient)
	}
}

func TestAuthorCounts(t *testing.T) {
	f := newFixture(t)
	f.to(NeedsConfirmation)
	f.to(NeedsConfirmation)
	other := doc("job-other-author")
	other.Author.ClinicalUserID = "dr.jones"
	res, _ := f.q.Enqueue(ctx, Submission{Doc: other}, system)
	f.q.MarkChecked(ctx, res.ID, system)
	got := f.q.AuthorCounts(NeedsConfirmation)
	if len(got) != 2 || got["dr.patel"] != 2 || got["dr.jones"] != 1 {
		t.Fatalf("author counts %v", got)
	}
}

// Many callers at once, every kind of operation: groups are staged by one caller after
// another and completed in that order; nothing may wait forever. (A group handed to the
// completer after the one staged after it deadlocked the queue.)
func TestConcurrentOperationsAllComplete(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var seq atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := lifeCycle(ctx, f.q, fmt.Sprint("job-", seq.Add(1))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("operations still waiting after 30 s:\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// A long body is compressed before it is sealed and reads back whole; one that does not
// compress by an eighth is sealed as it is. Either way, a job sent again is compared with
// what is stored.
func TestBodiesAreCompressedWhenThatSaves(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		summary string
		want    byte
	}{
		{strings.Repeat("Patient "+canaryGiven+" reports headaches, worse in the morning. ", 30), encBodyS2},
		{incompressible(2000), encBodyV2},
		{"Short.", encBodyV2},
	} {
		d := doc(fmt.Sprintf("job-%d", len(c.summary)))
		d.Summary = c.summary
		res, err := f.q.Enqueue(ctx, Submission{Doc: d}, system)
		if err != nil {
			t.Fatal(err)
		}
		key := recordKey(res.ID, kindBody)
		sealed, err := f.q.read(bRecords, key)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := f.q.sealer.Open(nil, sealed, ad(key))
		if err != nil {
			t.Fatal(err)
		}
		if pt[0] != c.want {
			t.Errorf("summary of %d bytes stored in encoding %#x, want %#x", len(c.summary), pt[0], c.want)
		}
		if c.want == encBodyS2 && len(pt) > len(c.summary)/2 {
			t.Errorf("summary of %d bytes compressed to %d", len(c.summary), len(pt))
		}
		got, err := f.q.Document(res.ID)
		if err != nil || got.Summary != c.summary || got.Patient.NHSNumber != canaryNHS {
			t.Fatalf("read back: %v, %v", got, err)
		}
		again, err := f.q.Enqueue(ctx, Submission{Doc: d}, system)
		if err != nil || again.Created || again.Conflict {
			t.Errorf("the same job sent again: %+v, %v", again, err)
		}
		changed := *d
		changed.Summary += "!"
		again, err = f.q.Enqueue(ctx, Submission{Doc: &changed}, system)
		if err != nil || again.Created || !again.Conflict {
			t.Errorf("a changed job sent again: %+v, %v; want a conflict", again, err)
		}
	}
}

// A file written in format 1 (before compressed bodies) is read and marked format 2; a
// file from a newer build is refused with what to do.
func TestTheDatabaseFormatIsCheckedAndUpgraded(t *testing.T) {
	f := newFixture(t)
	id := f.enqueue("job-1")
	setFormat := func(v uint64) {
		t.Helper()
		f.q.Close()
		db, err := bolt.Open(filepath.Join(f.dir, DBFileName), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, u64(v)) }); err != nil {
			t.Fatal(err)
		}
	}
	format := func() uint64 {
		t.Helper()
		var v uint64
		f.q.db.View(func(tx *bolt.Tx) error { v = bytesToID(tx.Bucket(bucketMeta).Get(keyFormat)); return nil })
		return v
	}
	if got := format(); got != FormatVersion || FormatVersion != 2 {
		t.Fatalf("a new file has format %d (FormatVersion %d), want 2", got, FormatVersion)
	}
	setFormat(1)
	f.open()
	if got := format(); got != 2 {
		t.Errorf("a format 1 file opened: format %d, want 2", got)
	}
	if _, err := f.q.Get(id); err != nil {
		t.Errorf("a record of the format 1 file: %v", err)
	}
	setFormat(3)
	_, err := Open(f.opts)
	if err == nil || !strings.Contains(err.Error(), "database format 3, this agent reads formats 1 to 2") {
		t.Fatalf("a format 3 file opened: %v", err)
	}
	setFormat(2) // so the fixture's cleanup can close what it opens
	f.open()
}
