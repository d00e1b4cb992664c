package queue

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/writeback"
)

func TestGroupFramesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	var buf []byte
	var want []*group
	for seq := uint64(1); seq <= 50; seq++ {
		g := &group{seq: seq}
		for i := rng.IntN(6); i >= 0; i-- {
			m := mutation{bucket: walBucketRecords, key: bytesOf(1 + rng.IntN(20))}
			if rng.IntN(4) == 0 {
				m.del = true
			} else {
				m.value = bytesOf(rng.IntN(3000))
			}
			g.size += len(m.key) + len(m.value)
			g.muts = append(g.muts, m)
		}
		want = append(want, g)
		buf = encodeGroup(buf, g)
	}
	r := bufio.NewReader(bytes.NewReader(buf))
	for _, w := range want {
		got, _, err := readFrame(r, 1<<40)
		if err != nil {
			t.Fatalf("group %d: %v", w.seq, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("group %d differs:\n%+v\n%+v", w.seq, got, w)
		}
	}
	if _, _, err := readFrame(r, 1<<40); err == nil {
		t.Fatal("read past the end")
	}
}

// stallApplier keeps logged groups out of bbolt until the returned function is called
// (once or more: defer it, so that a test that fails early does not hang closing the queue).
func stallApplier(q *Queue) (release func()) {
	gate := make(chan struct{})
	hook := func() error { <-gate; return nil }
	q.applyHook.Store(&hook)
	var once sync.Once
	return func() { once.Do(func() { q.applyHook.Store(nil); close(gate) }) }
}

// crashCopy copies the data folder as a crash would leave it on disk.
func crashCopy(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
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
	return to
}

// logLayouts are the kinds of file the log writes frames into: a spare it zero-filled and
// synced beforehand, an applied log file reused (its older frames after the new ones), and
// an ordinary file (before a spare is ready, or where spares cannot be made). Tests of what
// a crash leaves behind run on each.
var logLayouts = []struct {
	name string
	mod  func(*Options)
	prep func(*fixture) // after open, before the test's first write
}{
	{"zero-filled file", func(*Options) {}, func(f *fixture) { f.waitSpare() }},
	{"reused file", func(*Options) {}, func(f *fixture) { f.useReusedFile() }},
	{"ordinary file", func(o *Options) { o.noSpares = true }, func(*fixture) {}},
}

// useReusedFile writes and applies large records until the log writes into an applied log
// file it reused as a spare, whose older frames then follow the test's.
func (f *fixture) useReusedFile() {
	f.t.Helper()
	old := spareGrowWithin
	spareGrowWithin = 0 // spares stay at spareMin, the size the applied files have
	f.t.Cleanup(func() { spareGrowWithin = old })
	big := incompressible(300 << 10) // about three frames to a 1 MiB file
	w := f.q.wal
	for i := 0; ; i++ {
		w.mu.Lock()
		reused := w.reused
		w.mu.Unlock()
		if reused > 0 {
			return
		}
		if i == 40 {
			f.t.Fatal("no applied log file reused after 40 large records")
		}
		d := doc(fmt.Sprintf("job-fill-%d", i))
		d.Summary = big
		if _, err := f.q.Enqueue(ctx, Submission{Doc: d}, system); err != nil {
			f.t.Fatal(err)
		}
		if err := f.q.applyNow(); err != nil {
			f.t.Fatal(err)
		}
	}
}

// onEachLogLayout runs test as a subtest for each layout, on a fresh queue whose log writes
// that kind of file.
func onEachLogLayout(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, l := range logLayouts {
		t.Run(l.name, func(t *testing.T) {
			f := newFixture(t, l.mod)
			l.prep(f)
			test(t, f)
		})
	}
}

// waitSpare waits until the log has a zero-filled spare ready, so the next file it starts
// is one.
func (f *fixture) waitSpare() {
	f.t.Helper()
	w := f.q.wal
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		ready := w.spareReady()
		w.mu.Unlock()
		if ready {
			return
		}
		select {
		case <-w.spares.made:
		case <-deadline:
			f.t.Fatal("no spare log file made within 10 s")
		}
	}
}

// settleSpare waits until the filler has made the spare asked for, if one was.
func (f *fixture) settleSpare() {
	f.t.Helper()
	w := f.q.wal
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		w.mu.Lock()
		asked := w.spares.asked
		w.mu.Unlock()
		if !asked {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatal("the spare asked for was not made within 10 s")
		}
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	firsts, err := listSegments(filepath.Join(dir, WALDir))
	if err != nil || len(firsts) == 0 {
		t.Fatalf("no log files: %v", err)
	}
	return filepath.Join(dir, WALDir, segmentName(firsts[len(firsts)-1]))
}

// The log is what makes an acknowledgement true: groups logged but not yet in bbolt are
// visible to readers at once and come back after a crash.
func TestLoggedWritesSurviveACrashBeforeTheyReachTheDatabase(t *testing.T) {
	onEachLogLayout(t, testLoggedWritesSurviveACrash)
}

func testLoggedWritesSurviveACrash(t *testing.T, f *fixture) {
	release := stallApplier(f.q)
	defer release()
	d := doc("job-att")
	d.Attachments = []writeback.Attachment{{FileName: "a.txt", MediaType: "text/plain", DataBase64: "aGVsbG8="}}
	withAtt, err := f.q.Enqueue(ctx, Submission{Doc: d}, system)
	if err != nil {
		t.Fatal(err)
	}
	ready := f.to(Ready)
	plain := f.enqueue("job-plain")
	want, err := f.q.Counts()
	if err != nil {
		t.Fatal(err)
	}
	// Readers see what is logged, before the database has it.
	if got, err := f.q.Document(plain); err != nil || got.JobID != "job-plain" {
		t.Fatalf("document from the overlay: %v, %v", got, err)
	}
	if id, err := f.q.LookupJob("job-att"); err != nil || id != withAtt.ID {
		t.Fatalf("job from the overlay: %d, %v", id, err)
	}

	for name, damage := range map[string]func(seg string){
		"crash":                      func(string) {},
		"crash tearing a last write": func(seg string) { writeAfterFrames(t, seg, []byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3}) },
		"crash tearing a last write that grew the file": func(seg string) {
			truncateToFrames(t, seg)
			writeAfterFrames(t, seg, []byte{0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3})
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := crashCopy(t, f.dir)
			damage(lastSegment(t, dir))
			q, err := Open(Options{Dir: dir, Key: f.key, Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			if r, err := q.Get(ready); err != nil || r.State != Ready {
				t.Fatalf("ready record after replay: %+v, %v", r, err)
			}
			rc, err := q.OpenAttachment(withAtt.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			content, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(content) != "hello" {
				t.Fatalf("attachment after replay: %q, %v", content, err)
			}
			if counts, _ := q.Counts(); !maps.Equal(counts, want) || counts[Ready] != 1 {
				t.Fatalf("counts after replay: %v, want %v", counts, want)
			}
			// Replayed groups are in the database and the log is started afresh.
			q.Close()
			if firsts, _ := listSegments(filepath.Join(dir, WALDir)); len(firsts) != 0 {
				t.Fatalf("log files left after a clean close: %v", firsts)
			}
		})
	}
}

// framesEnd returns the offset just after the groups of a log file: after the last frame
// that checks out and is numbered on from the file's name (zeros or a reused file's older
// frames follow).
func framesEnd(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	next, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(path), walSuffix), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(bytes.NewReader(b))
	var off int64
	for {
		g, n, err := readFrame(r, int64(len(b))-off)
		if err != nil || g.seq != next {
			return off
		}
		off += int64(n)
		next++
	}
}

// zeroFrom reports whether r holds only zero bytes from offset off to its end.
func zeroFrom(r io.ReaderAt, off int64) (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.ReadAt(buf, off)
		for _, b := range buf[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += int64(n)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// writeAfterFrames writes b just after the last frame: a write the crash cut short.
func writeAfterFrames(t *testing.T, path string, b []byte) {
	t.Helper()
	end := framesEnd(t, path)
	fh, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt(b, end); err != nil {
		t.Fatal(err)
	}
}

// truncateToFrames cuts the preallocated zeros off a log file, as on a file system that
// cannot preallocate.
func truncateToFrames(t *testing.T, path string) {
	t.Helper()
	if err := os.Truncate(path, framesEnd(t, path)); err != nil {
		t.Fatal(err)
	}
}

// Damage before the end of the log is not a torn last write: acknowledged groups follow it,
// so the queue must refuse to open rather than silently drop them.
func TestDamagedLogIsRefused(t *testing.T) {
	onEachLogLayout(t, func(t *testing.T, f *fixture) {
		release := stallApplier(f.q)
		defer release()
		for _, job := range []string{"a", "b", "c"} {
			f.enqueue(job)
		}
		dir := crashCopy(t, f.dir)
		seg := lastSegment(t, dir)
		b, _ := os.ReadFile(seg)
		b[walFrameHeader+3] ^= 0xff // inside the first frame, two more follow
		os.WriteFile(seg, b, 0o600)
		_, err := Open(Options{Dir: dir, Key: f.key})
		if err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("open with a damaged log: %v", err)
		}
	})
}

// A frame header damaged (wiped to zeros, or its length changed) ends the file's groups
// where it is, but acknowledged frames follow it: they are found (from where the header
// says the next frame starts, or by scanning for the next group's number), and the log is
// refused rather than cut short.
func TestADamagedFrameHeaderIsRefused(t *testing.T) {
	onEachLogLayout(t, testADamagedFrameHeaderIsRefused)
}

func testADamagedFrameHeaderIsRefused(t *testing.T, f *fixture) {
	release := stallApplier(f.q)
	defer release()
	for _, job := range []string{"a", "b", "c"} {
		f.enqueue(job)
	}
	for name, damage := range map[string]func(b []byte){
		"wiped":                        func(b []byte) { clear(b[:walFrameHeader]) },
		"length past the file's end":   func(b []byte) { binary.BigEndian.PutUint32(b, 0x7fff_fff0) },
		"length a byte longer":         func(b []byte) { binary.BigEndian.PutUint32(b, binary.BigEndian.Uint32(b)+1) },
		"length too short for a group": func(b []byte) { binary.BigEndian.PutUint32(b, 2) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := crashCopy(t, f.dir)
			seg := lastSegment(t, dir)
			b, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			damage(b) // the first frame's header; two more frames follow
			os.WriteFile(seg, b, 0o600)
			_, err = Open(Options{Dir: dir, Key: f.key})
			if err == nil || !strings.Contains(err.Error(), "damaged") {
				t.Fatalf("open: %v, want damaged", err)
			}
		})
	}
}

// A file's groups end at the first frame that does not check out or is not numbered on
// from the file's name; what follows is zeros, a reused file's older frames, or a torn last
// write, and is not replayed. A frame numbered further on after the end is damage.
func TestWhereALogFilesGroupsEnd(t *testing.T) {
	frame := func(seq uint64, fill byte) []byte {
		return encodeGroup(nil, &group{seq: seq, muts: []mutation{
			{bucket: walBucketRecords, key: []byte{byte(seq)}, value: bytes.Repeat([]byte{fill}, 3000+int(seq))},
		}})
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	const first = 300                                                         // a two-byte group number
	older := join(frame(250, 1), frame(251, 2), frame(252, 3), frame(253, 4)) // a reused file's
	ours := join(frame(first, 5), frame(first+1, 6), frame(first+2, 7))
	torn := frame(first+3, 8)[:2000]
	damagedPayload := func() []byte { b := bytes.Clone(ours); b[len(frame(first, 5))+20] ^= 1; return b }
	lengthOf := func(l uint32) []byte { b := bytes.Clone(ours); binary.BigEndian.PutUint32(b, l); return b }
	for _, c := range []struct {
		name   string
		file   []byte
		groups int
		err    string
	}{
		{"zeros after", join(ours, make([]byte, 20000)), 3, ""},
		{"nothing after", ours, 3, ""},
		{"an older frame right after", join(ours, older), 3, ""},
		{"older frames cut anywhere after", join(ours, older[1234:]), 3, ""},
		{"a torn last write over older frames", join(ours, torn, older[len(torn):]), 3, ""},
		{"a torn last write over zeros", join(ours, torn, make([]byte, 8000)), 3, ""},
		{"only older frames", older, 0, ""},
		{"only zeros", make([]byte, 8000), 0, ""},
		{"a group missing", join(frame(first, 5), frame(first+2, 7)), 0, "group 302 where 301 was expected"},
		{"the first group missing", join(frame(first+1, 6)), 0, "group 301 where 300 was expected"},
		{"a damaged payload, then a group", join(damagedPayload(), older), 0, "damaged"},
		{"a wiped header, then a group", join(lengthOf(0), older), 0, "damaged"},
		{"a huge length, then a group", join(lengthOf(0x7fff_fff0), older), 0, "damaged"},
		{"a length into the next frame, then a group", join(lengthOf(5000), older), 0, "damaged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), segmentName(first))
			if err := os.WriteFile(path, c.file, 0o600); err != nil {
				t.Fatal(err)
			}
			var got []uint64
			err := readSegment(path, first, func(g *group) error { got = append(got, g.seq); return nil })
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("read: %v (groups %v), want an error with %q", err, got, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != c.groups {
				t.Fatalf("groups %v, want %d from %d", got, c.groups, first)
			}
			for i, seq := range got {
				if seq != first+uint64(i) {
					t.Fatalf("groups %v", got)
				}
			}
		})
	}
}

// An applied log file becomes the next spare, instead of one being filled with zeros, if
// none is ready or being made and its size is at least the size wanted and at most twice it.
func TestWhichAppliedLogFilesAreReused(t *testing.T) {
	for _, c := range []struct {
		name         string
		asked, ready bool
		want, extent int64
		reused       bool
	}{
		{"wanted size", false, false, spareMin, spareMin, true},
		{"twice the wanted size", false, false, spareMin, 2 * spareMin, true},
		{"more than twice", false, false, spareMin, 2*spareMin + 1, false},
		{"smaller than wanted", false, false, 4 * spareMin, 2 * spareMin, false},
		{"a spare is ready", false, true, spareMin, spareMin, false},
		{"a spare is being made", true, false, spareMin, spareMin, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w := &wal{dir: dir}
			w.spares.on, w.spares.asked, w.spares.ready, w.spares.want = true, c.asked, c.ready, c.want
			seg := segment{first: 7, extent: c.extent}
			if err := os.WriteFile(filepath.Join(dir, segmentName(seg.first)), []byte("frames"), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := w.recycle(seg); got != c.reused {
				t.Fatalf("reused %v, want %v", got, c.reused)
			}
			_, err := os.Stat(filepath.Join(dir, spareName))
			if c.reused && (err != nil || !w.spares.ready || !w.spares.reused || w.spares.size != c.extent) {
				t.Fatalf("reused, but spare file %v, ready %v, reused %v, size %d", err, w.spares.ready, w.spares.reused, w.spares.size)
			}
		})
	}
}

// If the database cannot be written, the queue refuses new writes instead of piling them
// up; a restart replays what was logged.
func TestApplierFailureRefusesWritesUntilRestart(t *testing.T) {
	f := newFixture(t)
	fail := func() error { return errors.New("disk on fire") }
	f.q.applyHook.Store(&fail)
	id := f.enqueue("job-logged")
	if err := f.q.applyNow(); err == nil {
		t.Fatal("applier failure not reported")
	}
	if _, err := f.q.Enqueue(ctx, Submission{Doc: doc("job-refused")}, system); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("enqueue after the applier failed: %v", err)
	}
	f.q.Close()
	f.open()
	if r, err := f.q.Get(id); err != nil || r.JobID != "job-logged" {
		t.Fatalf("logged record after restart: %+v, %v", r, err)
	}
	if _, err := f.q.LookupJob("job-refused"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused record exists: %v", err)
	}
}

func TestAppliedLogFilesAreRemoved(t *testing.T) {
	f := newFixture(t)
	old := walSegmentMax
	walSegmentMax = 4 << 10
	defer func() { walSegmentMax = old }()
	for i := 0; i < 40; i++ {
		f.enqueue("job-" + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if err := f.q.applyNow(); err != nil {
		t.Fatal(err)
	}
	firsts, _ := listSegments(filepath.Join(f.dir, WALDir))
	if len(firsts) > 2 {
		t.Fatalf("%d log files kept after everything was applied", len(firsts))
	}
}

// The applier writes only the last change of each key in a batch, whatever the order of
// puts and deletes.
func TestApplyingABatchKeepsTheLastChangeOfEachKey(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(k, v string) mutation {
		return mutation{bucket: walBucketRecords, key: []byte(k), value: []byte(v)}
	}
	del := func(k string) mutation { return mutation{bucket: walBucketRecords, key: []byte(k), del: true} }
	gs := []*group{
		{seq: 1, muts: []mutation{put("a", "1"), put("b", "1"), put("c", "1"), {bucket: walBucketJobs, key: []byte("a"), value: []byte("job")}}},
		{seq: 2, muts: []mutation{put("a", "2"), del("b"), put("d", "2")}},
		{seq: 3, muts: []mutation{put("a", "3"), put("b", "3"), del("d")}},
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketJobs, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return applyToTx(tx, gs)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		got := map[string]string{}
		tx.Bucket(bucketRecords).ForEach(func(k, v []byte) error { got[string(k)] = string(v); return nil })
		if want := map[string]string{"a": "3", "b": "3", "c": "1"}; !maps.Equal(got, want) {
			t.Errorf("records bucket %v, want %v", got, want)
		}
		if v := tx.Bucket(bucketJobs).Get([]byte("a")); string(v) != "job" {
			t.Errorf("jobs bucket: %q", v)
		}
		if v := tx.Bucket(bucketMeta).Get(keyWALApplied); bytesToID(v) != 3 {
			t.Errorf("applied %d, want 3", bytesToID(v))
		}
		return nil
	})
}

// Frames go into files zero-filled and synced beforehand, so that a commit's sync has only
// data to flush. A file is left for the next spare when a frame does not fit in its zeros,
// and spares grow while they are used up quickly.
func TestLogWritesIntoZeroFilledSpares(t *testing.T) {
	f := newFixture(t)
	release := stallApplier(f.q) // keep every file: nothing is applied, nothing reused
	defer release()
	walDir := filepath.Join(f.dir, WALDir)
	big := incompressible(300 << 10) // about four frames to a 1 MiB spare
	var sizes []int64
	for i := 0; i < 12; i++ {
		f.settleSpare() // the spare asked for once half a file is used is ready
		d := doc(fmt.Sprintf("job-%d", i))
		d.Summary = big
		if _, err := f.q.Enqueue(ctx, Submission{Doc: d}, system); err != nil {
			t.Fatal(err)
		}
	}
	firsts, err := listSegments(walDir)
	if err != nil {
		t.Fatal(err)
	}
	for i, first := range firsts {
		seg := filepath.Join(walDir, segmentName(first))
		fi, err := os.Stat(seg)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, fi.Size())
		end := framesEnd(t, seg)
		if end == 0 || end > fi.Size() {
			t.Fatalf("file %d: frames end at %d of %d bytes", i, end, fi.Size())
		}
		fh, _ := os.Open(seg)
		zeros, err := zeroFrom(fh, end)
		fh.Close()
		if err != nil || !zeros {
			t.Fatalf("file %d: not zeros after its frames (%v)", i, err)
		}
	}
	// 12 frames of ~300 KB: spares of 1, 1, 2 and 4 MiB (three frames, three, six...).
	if len(sizes) < 3 || sizes[0] != spareMin || sizes[len(sizes)-1] <= spareMin {
		t.Fatalf("log file sizes %v: want spares starting at %d and growing", sizes, spareMin)
	}
	dir := crashCopy(t, f.dir)
	release()
	q, err := Open(Options{Dir: dir, Key: f.key}) // everything replays from the zero-filled files
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := 0; i < 12; i++ {
		if _, err := q.LookupJob(fmt.Sprintf("job-%d", i)); err != nil {
			t.Fatalf("job-%d after a crash: %v", i, err)
		}
	}
}

func TestSpareSizes(t *testing.T) {
	for _, c := range []struct {
		last   int64
		lasted time.Duration
		want   int64
	}{
		{0, 0, spareMin},                              // the first
		{spareMin, time.Second, 2 * spareMin},         // used up quickly: double
		{walSegmentMax, time.Second, walSegmentMax},   // up to a full segment
		{8 * spareMin, time.Hour, 4 * spareMin},       // used up slowly: halve
		{spareMin, time.Hour, spareMin},               // down to the smallest
		{spareMin, spareGrowWithin - 1, 2 * spareMin}, // the boundary
		{4 * spareMin, spareGrowWithin, 2 * spareMin}, // just past it
	} {
		if got := nextSpareSize(c.last, c.lasted); got != c.want {
			t.Errorf("nextSpareSize(%d, %v) = %d, want %d", c.last, c.lasted, got, c.want)
		}
	}
}

// A spare half-made when the service stopped is not a log file: open removes it (and makes
// a new one), and a clean close leaves none behind.
func TestSpareFilesAreNeverLogFiles(t *testing.T) {
	f := newFixture(t)
	f.waitSpare() // asked for at open
	f.q.Close()
	if _, err := os.Stat(filepath.Join(f.dir, WALDir, spareName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("spare left after a clean close: %v", err)
	}
	// A crash while making a spare leaves a file of anything at all.
	if err := os.WriteFile(filepath.Join(f.dir, WALDir, spareName), []byte("half a spare \x01\x02"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.open()
	f.waitSpare()
	fh, err := os.Open(filepath.Join(f.dir, WALDir, spareName))
	if err != nil {
		t.Fatal(err)
	}
	zeros, err := zeroFrom(fh, 0)
	fh.Close()
	if err != nil || !zeros {
		t.Fatalf("the spare after open holds something other than zeros (%v)", err)
	}
	f.enqueue("job-a") // into the spare
	f.reopen()
	if _, err := f.q.LookupJob("job-a"); err != nil {
		t.Fatal(err)
	}
}

// The applier applies what was handed over when it started, then gathers again: groups
// logged while a transaction runs wait for the next gathering instead of being applied by
// one small transaction after another, as long as writes keep coming.
func TestApplierGathersAgainAfterEachTransaction(t *testing.T) {
	old := applyDelay
	applyDelay = time.Hour // only a flush or close ends a gathering here
	defer func() { applyDelay = old }()
	f := newFixture(t)
	entered, gate := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	hook := func() error {
		if calls.Add(1) == 1 {
			close(entered)
			<-gate
		}
		return nil
	}
	f.q.applyHook.Store(&hook)
	f.enqueue("job-first")
	first := f.q.walSeq
	go func() { _ = f.q.applyNow() }() // ends the first gathering
	<-entered                          // the first transaction, of job-first, is running
	f.enqueue("job-second")
	f.enqueue("job-third")
	close(gate)
	a := f.q.ap
	a.mu.Lock()
	for a.applied < first {
		a.cond.Wait()
	}
	a.mu.Unlock()
	time.Sleep(50 * time.Millisecond) // time enough for a transaction that should not run
	a.mu.Lock()
	applied, logged := a.applied, a.logged
	a.mu.Unlock()
	if applied != first || logged != first+2 {
		t.Fatalf("applied to group %d of %d; want only %d applied until the next gathering ends", applied, logged, first)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d transactions, want 1", n)
	}
	if err := f.q.applyNow(); err != nil { // a flush applies the rest at once
		t.Fatal(err)
	}
}

// A spare that could not be made (a full disk, say) leaves the log on ordinary files only
// until a later write asks for one again.
func TestASpareThatCouldNotBeMadeIsAskedForAgain(t *testing.T) {
	oldRetry := spareRetry
	failed := make(chan struct{})
	var calls atomic.Int32
	spareRetry = 0
	spareFault = func() error {
		if calls.Add(1) == 1 { // only the first spare fails
			close(failed)
			return errors.New("no space left on device")
		}
		return nil
	}
	t.Cleanup(func() { spareFault, spareRetry = nil, oldRetry }) // after the queue is closed
	f := newFixture(t)
	<-failed
	f.settleSpare()    // the filler has recorded the failure: the next write must ask again
	f.enqueue("job-a") // into an ordinary file; asks for a spare again
	f.waitSpare()
	f.enqueue("job-b") // into the spare
	w := f.q.wal
	w.mu.Lock()
	limit, files := w.limit, len(w.segments)
	w.mu.Unlock()
	if limit != spareMin || files != 2 {
		t.Fatalf("after a failed spare: %d log files, the current one zero-filled to %d; want 2, %d", files, limit, spareMin)
	}
}

// A frame the log could not write fails its group and every group staged after it (they
// may rest on its changes, and the log must have no gap); the queue then refuses writes
// until it is opened again, and what was committed before is kept.
func TestAFailedLogWriteFailsItsGroupAndStopsWrites(t *testing.T) {
	f := newFixture(t)
	kept := f.enqueue("job-kept")
	// Only one write fails, once another group is staged behind it: writing that one would
	// succeed and leave a gap in the log, which the reopen below would refuse.
	var failing atomic.Bool
	entered := make(chan struct{})
	walWriteFault = func(uint64) error {
		if !failing.CompareAndSwap(true, false) {
			return nil
		}
		close(entered)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			f.q.cmu.Lock()
			behind := len(f.q.completing)
			f.q.cmu.Unlock()
			if behind > 0 {
				break
			}
		}
		return errors.New("input/output error")
	}
	t.Cleanup(func() { walWriteFault = nil })
	failing.Store(true)
	// One caller's group is being written when the others are staged behind it.
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := f.q.Enqueue(ctx, Submission{Doc: doc(fmt.Sprintf("job-lost-%d", i))}, system)
			errs <- err
		}()
		if i == 0 {
			<-entered
		}
	}
	for range n {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "input/output error") {
			t.Fatalf("enqueue while the log cannot be written: %v; want the write's error", err)
		}
	}
	if _, err := f.q.Enqueue(ctx, Submission{Doc: doc("job-after")}, system); err == nil {
		t.Fatal("enqueue after a failed log write succeeded; want writes refused until a restart")
	}
	f.reopen()
	if r, err := f.q.Get(kept); err != nil || r.JobID != "job-kept" {
		t.Fatalf("record committed before the failure: %+v, %v", r, err)
	}
	if all, err := f.q.List(Filter{}); err != nil || len(all) != 1 {
		t.Fatalf("%d records after the restart (%v), want only the one committed before the failure", len(all), err)
	}
	f.enqueue("job-new") // writes work again after the restart
}
