package queue

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/writeback-agent/wbagent/agent/durable"
)

// The write-ahead log makes a group of operations durable with one append and one
// fdatasync; the applier copies it into bbolt later, in large batches (applier.go). A
// commit is therefore one sequential write, not bbolt's page writes and two syncs. The log
// holds only what bbolt would hold: sealed values, keys, job ids.
//
// Files: DATA/wal/<first group number, 16 hex digits>.wal. A file is a sequence of frames:
//
//	length uint32 | crc32c(payload) uint32 | payload
//	payload: uvarint group number | uvarint mutation count | mutations
//	mutation: op byte (1 put, 2 delete) | bucket byte | uvarint key length | key
//	          [| uvarint value length | value]   (put only)
//
// Frames are written in group order; a sync makes every frame written before it started
// durable, and a group is acknowledged only once such a sync has ended (and every group
// before it is acknowledged). So a frame torn by a crash was never acknowledged, nor was any
// frame after it.
//
// Frames are written into files whose blocks were already written and synced: an applied
// log file reused, or a spare filled with zeros (wal_spare.go). Overwriting blocks that are
// already the file's changes no metadata, so a sync has only data to flush; on ext4 that
// makes it about twice as fast as a sync that must also commit a grown size or convert
// preallocated extents. A file's groups are therefore followed by zeros or by a reused
// file's older frames, and the reader must find where they end: a file's groups are the
// frames from its start that check out and are numbered on from the file's name. Older
// frames are numbered before it; a torn frame fails its checksum. A frame numbered further
// on, found after the end, means the end is damage with acknowledged groups after it, and
// the log is refused rather than cut short (docs/hazard-log.md, H1). A file that ends
// early is also caught by the next file not numbering on from it.

// WALDir is the write-ahead log's folder inside the data folder.
const WALDir = "wal"

const (
	walSuffix      = ".wal"
	walFrameHeader = 8
	walMaxFrame    = 256 << 20
)

// Mutation ops and bucket ids in the log. Serialised: never change a value.
const (
	mutPut    byte = 1
	mutDelete byte = 2

	walBucketRecords byte = 'r'
	walBucketJobs    byte = 'j'
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// walWriteFault, if set, fails the writing of a frame (tests).
var walWriteFault func(seq uint64) error

// walSegmentMax is the size past which the log starts a new file (a variable for tests).
var walSegmentMax int64 = 32 << 20

// walPrealloc is how far ahead of its frames a log file is preallocated.
const walPrealloc = 4 << 20

// mutation is one change to a bucket.
type mutation struct {
	bucket byte
	key    []byte
	value  []byte // nil for a delete
	del    bool
	okey   string // overlayKey(bucket, key), when made by an operation (not logged)
}

// lookedUp reports whether m's key is ever read by its exact key: every key but an audit
// entry's. Audit entries are only read in order, through bbolt, once the overlay is
// applied (the reads apply it first), so a group does not index them in its map of its
// own writes nor in the overlay: a new record is then three entries in each instead of
// four.
func (m *mutation) lookedUp() bool {
	return m.bucket != walBucketRecords || len(m.key) != auditKeyLen || m.key[8] != kindAudit
}

// overlayKey returns m's key in the overlay.
func (m *mutation) overlayKey() string {
	if m.okey == "" {
		m.okey = overlayKey(m.bucket, m.key)
	}
	return m.okey
}

// group is what one commit changes, numbered in commit order.
type group struct {
	seq  uint64
	muts []mutation
	size int // bytes of keys and values, for back-pressure
}

func encodeGroup(buf []byte, g *group) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, walFrameHeader)...)
	buf = binary.AppendUvarint(buf, g.seq)
	buf = binary.AppendUvarint(buf, uint64(len(g.muts)))
	for _, m := range g.muts {
		op := mutPut
		if m.del {
			op = mutDelete
		}
		buf = append(buf, op, m.bucket)
		buf = binary.AppendUvarint(buf, uint64(len(m.key)))
		buf = append(buf, m.key...)
		if !m.del {
			buf = binary.AppendUvarint(buf, uint64(len(m.value)))
			buf = append(buf, m.value...)
		}
	}
	payload := buf[start+walFrameHeader:]
	binary.BigEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, crcTable))
	return buf
}

var errWALTorn = errors.New("torn or damaged frame")

// decodeGroup parses a frame's payload.
func decodeGroup(p []byte) (*group, error) {
	g := &group{}
	var n int
	if g.seq, n = binary.Uvarint(p); n <= 0 {
		return nil, errWALTorn
	}
	p = p[n:]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > uint64(len(p)) {
		return nil, errWALTorn
	}
	p = p[n:]
	bytesField := func() ([]byte, bool) {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return nil, false
		}
		b := p[n : n+int(l)]
		p = p[n+int(l):]
		return b, true
	}
	g.muts = make([]mutation, 0, count)
	for i := uint64(0); i < count; i++ {
		if len(p) < 2 {
			return nil, errWALTorn
		}
		m := mutation{bucket: p[1], del: p[0] == mutDelete}
		if p[0] != mutPut && p[0] != mutDelete {
			return nil, errWALTorn
		}
		p = p[2:]
		var ok bool
		if m.key, ok = bytesField(); !ok {
			return nil, errWALTorn
		}
		if !m.del {
			if m.value, ok = bytesField(); !ok {
				return nil, errWALTorn
			}
		}
		g.size += len(m.key) + len(m.value)
		g.muts = append(g.muts, m)
	}
	if len(p) != 0 {
		return nil, errWALTorn
	}
	return g, nil
}

// wal appends groups to the current segment file. Writing and syncing are separate so that
// frames are written group by group as they are staged, and one fdatasync then covers every
// frame written before it started.
type wal struct {
	dir string

	syncMu sync.Mutex    // one sync at a time; taken before mu
	synced atomic.Uint64 // the last group known to be on disk

	mu       sync.Mutex // guards everything below
	f        *os.File   // the file being written; nil until the first write
	old      []*os.File // files left by rotation, closed by release
	size     int64      // bytes of frames in f
	limit    int64      // f's blocks up to here were written and synced before it was used
	reused   int        // files that were applied log files reused as spares (tests)
	alloc    int64      // f is preallocated up to here
	segments []segment  // the log's files, oldest first; the last is f
	written  uint64     // the last group written
	buf      []byte

	spares spares // the next file, made or reused ahead of need (wal_spare.go)
}

// segment is one log file.
type segment struct {
	first uint64 // its first group number (its name)
	// extent: every byte before it was written and synced (zeros or frames), so frames
	// written there change no metadata. Set when the log moves on to the next file.
	extent int64
}

func segmentName(first uint64) string { return fmt.Sprintf("%016x%s", first, walSuffix) }

// listSegments returns the first group numbers of the log files in dir, in order.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), walSuffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected file %s in the log folder", e.Name())
		}
		firsts = append(firsts, n)
	}
	slices.Sort(firsts)
	return firsts, nil
}

// readSegments calls fn for each group in the log files of dir, in order. Each file's
// groups run on from the file before's; a file that ends early (damage, or frames lost) leaves
// a gap, which is refused.
func readSegments(dir string, fn func(*group) error) error {
	firsts, err := listSegments(dir)
	if err != nil {
		return err
	}
	var last uint64
	for _, first := range firsts {
		err := readSegment(filepath.Join(dir, segmentName(first)), first, func(g *group) error {
			if last != 0 && g.seq != last+1 {
				return fmt.Errorf("group %d follows %d", g.seq, last)
			}
			last = g.seq
			return fn(g)
		})
		if err != nil {
			return fmt.Errorf("write-ahead log: %s: %w", segmentName(first), err)
		}
	}
	return nil
}

// readSegment calls fn for each group of the log file at path, whose first group is first.
// The file's groups are the frames from its start that check out and number on from first.
// They end at the first frame that does not: the zeros of a spare, a reused file's older
// frames (numbered before first), or a last frame a crash tore (never acknowledged). A
// frame numbered further on found past that point means the frame there is damage with
// acknowledged groups after it, and the file is refused.
func readSegment(path string, first uint64, fn func(*group) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	next := first
	for off := int64(0); off < size; {
		g, n, err := readFrame(r, size-off)
		switch {
		case err != nil && !errors.Is(err, errWALTorn):
			return fmt.Errorf("read at byte %d: %w", off, err)
		case err == nil && g.seq == next:
			if err := fn(g); err != nil {
				return err
			}
			off += int64(n)
			next++
			continue
		case err == nil && g.seq > next:
			return fmt.Errorf("damaged at byte %d: group %d where %d was expected", off, g.seq, next)
		}
		// The end of the file's groups, unless one follows.
		at, err := findLaterFrame(f, off, int64(n), size, next)
		if err != nil {
			return err
		}
		if at >= 0 {
			return fmt.Errorf("damaged at byte %d: group %d or later follows at byte %d", off, next, at)
		}
		return nil
	}
	return nil
}

// findLaterFrame looks past the end of a file's groups, at off, for a frame numbered next or
// later, returning its offset or -1. It checks where the bad frame's header says the next
// frame starts (n bytes on), then scans the rest for frame next+1 (the frame after a bad
// one whose header is damaged too). Nothing written before the file's groups can match: a
// reused file's older frames are numbered before the file's first group.
func findLaterFrame(f *os.File, off, n, size int64, next uint64) (int64, error) {
	if at := off + n; n > walFrameHeader && at < size {
		if g, err := frameAt(f, at, size); err != nil {
			return -1, err
		} else if g != nil && g.seq >= next {
			return at, nil
		}
	}
	// A frame's payload starts with its group number.
	pat := binary.AppendUvarint(nil, next+1)
	const window = 1 << 20
	buf := make([]byte, window+walFrameHeader+len(pat))
	for base := off + 1; base < size; base += window {
		k, err := f.ReadAt(buf[:min(int64(len(buf)), size-base)], base)
		if err != nil && err != io.EOF {
			return -1, fmt.Errorf("read: %w", err)
		}
		b := buf[:k]
		for i := 0; ; i++ {
			j := bytes.Index(b[i:], pat)
			if j < 0 {
				break
			}
			i += j
			at := base + int64(i) - walFrameHeader
			if at <= off || !plausibleFrame(b, i-walFrameHeader, at, size) {
				continue
			}
			if g, err := frameAt(f, at, size); err != nil {
				return -1, err
			} else if g != nil && g.seq == next+1 {
				return at, nil
			}
		}
	}
	return -1, nil
}

// plausibleFrame is a quick check, on what b holds of it, of a frame that may start at b[h]
// (file offset at), before it is read and checked in full: its length fits in the file, and
// its first mutation has a known op and bucket.
func plausibleFrame(b []byte, h int, at, size int64) bool {
	if h < 0 || h+walFrameHeader > len(b) {
		return true // not in b: check it in full
	}
	l := int64(binary.BigEndian.Uint32(b[h:]))
	if l == 0 || l > walMaxFrame || at+walFrameHeader+l > size {
		return false
	}
	p := b[h+walFrameHeader:]
	for range 2 { // group number, mutation count
		_, n := binary.Uvarint(p)
		if n <= 0 {
			return n == 0 // cut off by the end of b: check it in full
		}
		p = p[n:]
	}
	if len(p) < 2 {
		return true
	}
	return (p[0] == mutPut || p[0] == mutDelete) && (p[1] == walBucketRecords || p[1] == walBucketJobs)
}

// frameAt reads the frame at offset at, returning nil if there is no valid one.
func frameAt(f *os.File, at, size int64) (*group, error) {
	g, _, err := readFrame(bufio.NewReader(io.NewSectionReader(f, at, size-at)), size-at)
	if errors.Is(err, errWALTorn) {
		return nil, nil
	}
	return g, err
}

// readFrame reads one frame from r, which has rest bytes left. n is the frame's length as
// its header gives it (or the bytes left, if the header itself is cut short), so that a
// caller can look for a frame after it. A frame longer than the bytes left is torn (and no
// buffer is made for it: after the end of a log's frames, headers are any bytes at all).
func readFrame(r *bufio.Reader, rest int64) (*group, int, error) {
	var hdr [walFrameHeader]byte
	if k, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, k, errWALTorn
	}
	l := binary.BigEndian.Uint32(hdr[:])
	n := walFrameHeader + int(l)
	if l == 0 || l > walMaxFrame {
		return nil, walFrameHeader, errWALTorn
	}
	if int64(n) > rest {
		return nil, n, errWALTorn
	}
	p := make([]byte, l)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, n, errWALTorn
	}
	if crc32.Checksum(p, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
		return nil, n, errWALTorn
	}
	g, err := decodeGroup(p)
	return g, n, err
}

// openWAL starts a log whose first group will be next; its first file is made at the first
// write. Older files must have been applied and removed already. Without spares (tests),
// every file is an ordinary one.
func openWAL(dir string, next uint64, spares bool) (*wal, error) {
	w := &wal{dir: dir}
	if err := removeFile(dir, spareName); err != nil { // a crash's half-made spare
		return nil, fmt.Errorf("write-ahead log: remove old spare file: %w", err)
	}
	w.startSpares(spares)
	return w, nil
}

// rotate makes the current file durable and starts a new one for group next: the spare
// file if one is ready, otherwise a new, empty one. Caller holds mu.
func (w *wal) rotate(next uint64) error {
	if w.f != nil {
		if err := fdatasync(w.f); err != nil {
			return fmt.Errorf("write-ahead log: sync: %w", err)
		}
		w.markSynced(w.written)
	}
	path := filepath.Join(w.dir, segmentName(next))
	f, limit := w.takeSpare(path)
	if f == nil {
		var err error
		if f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return fmt.Errorf("write-ahead log: new file: %w", err)
		}
		preallocate(f, walPrealloc)
	}
	if err := durable.SyncDir(w.dir); err != nil {
		f.Close()
		return fmt.Errorf("write-ahead log: sync folder: %w", err)
	}
	if w.f != nil {
		w.old = append(w.old, w.f) // a sync may still be using it
		w.segments[len(w.segments)-1].extent = max(w.limit, w.size)
	}
	w.f, w.size, w.limit, w.alloc = f, 0, limit, max(limit, walPrealloc)
	w.segments = append(w.segments, segment{first: next})
	return nil
}

// write appends g's frame without syncing it. Groups are written in number order. A new
// file is started when the frame does not fit in the zeros of the current one and a spare
// is ready, or when the current one is full.
func (w *wal) write(g *group) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if walWriteFault != nil {
		if err := walWriteFault(g.seq); err != nil {
			return fmt.Errorf("write-ahead log: write: %w", err)
		}
	}
	w.buf = encodeGroup(w.buf[:0], g)
	end := w.size + int64(len(w.buf))
	if end > w.limit/2 {
		// Half of this file's written blocks are used and no applied file came back as
		// the next spare (wal_spare.go): the filler makes one of zeros.
		w.askSpare(w.spares.want)
	}
	if w.f == nil || w.size >= walSegmentMax || (end > w.limit && w.spareReady()) {
		if err := w.rotate(g.seq); err != nil {
			return err
		}
		end = int64(len(w.buf))
	}
	if end > w.alloc {
		w.alloc = end + walPrealloc
		preallocate(w.f, w.alloc)
	}
	if _, err := w.f.WriteAt(w.buf, w.size); err != nil {
		return fmt.Errorf("write-ahead log: write: %w", err)
	}
	w.size = end
	w.written = g.seq
	if cap(w.buf) > 4<<20 {
		w.buf = nil // do not keep a large group's buffer
	}
	return nil
}

// syncTo returns once group seq (and so every group before it) is on disk.
func (w *wal) syncTo(seq uint64) error {
	if w.synced.Load() >= seq {
		return nil
	}
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.synced.Load() >= seq {
		return nil // a sync that started after seq was written covered it
	}
	w.mu.Lock()
	f, target := w.f, w.written
	w.mu.Unlock()
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("write-ahead log: sync: %w", err)
	}
	w.markSynced(target)
	return nil
}

func (w *wal) markSynced(seq uint64) {
	for {
		cur := w.synced.Load()
		if seq <= cur || w.synced.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// release removes the log files whose groups are all applied (numbers up to applied).
func (w *wal) release(applied uint64) error {
	w.syncMu.Lock() // no sync is using an old file
	defer w.syncMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	for len(w.segments) > 1 && w.segments[1].first <= applied+1 {
		if len(w.old) > 0 {
			err = errors.Join(err, w.old[0].Close())
			w.old = w.old[1:]
		}
		if !w.recycle(w.segments[0]) {
			err = errors.Join(err, os.Remove(filepath.Join(w.dir, segmentName(w.segments[0].first))))
		}
		w.segments = w.segments[1:]
	}
	return err
}

// close stops making spares, closes the files and, if every group is applied, removes them.
func (w *wal) close(allApplied bool) error {
	w.stopSpares()
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.f != nil {
		err = w.f.Close()
	}
	for _, f := range w.old {
		err = errors.Join(err, f.Close())
	}
	w.old = nil
	if allApplied {
		for _, s := range w.segments {
			err = errors.Join(err, os.Remove(filepath.Join(w.dir, segmentName(s.first))))
		}
		w.segments = nil
	}
	return err
}
