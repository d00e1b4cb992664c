package queue

import (
	"bufio"
	"bytes"
	"cmp"
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

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/durable"
)

// Builds before this one kept a write-ahead log in front of bbolt, in DATA/wal. A data
// folder they left may hold logged changes bbolt does not have yet; Open applies them once,
// in one bbolt transaction, then removes the log folder. Nothing here writes a log.
//
// A log file, DATA/wal/<first group number, 16 hex digits>.wal, is a sequence of frames:
//
//	length uint32 | crc32c(payload) uint32 | payload
//	payload: uvarint group number | uvarint mutation count | mutations
//	mutation: op byte (1 put, 2 delete) | bucket byte | uvarint key length | key
//	          [| uvarint value length | value]   (put only)
//
// meta/walApplied in bbolt holds the number of the last group applied. A file's groups are
// the frames from its start that check out and number on from the file's name; they end at
// the first frame that does not (zeros of a preallocated file, an older reused file's frames,
// or a frame a crash tore). Those builds acknowledged a group only after every frame up to
// it was synced, so nothing after the first frame that fails its check was acknowledged:
// the replay stops there, and at a gap between files.

// oldWALDir is the old write-ahead log's folder inside the data folder.
const oldWALDir = "wal"

const (
	oldWALSuffix      = ".wal"
	oldWALFrameHeader = 8
	oldWALMaxFrame    = 256 << 20

	oldMutPut    byte = 1
	oldMutDelete byte = 2
)

// Bucket ids of the old log. Serialised.
const (
	walBucketRecords byte = 'r'
	walBucketJobs    byte = 'j'
)

// keyWALApplied in the meta bucket holds the number of the last old-log group in bbolt.
var keyWALApplied = []byte("walApplied")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var errWALTorn = errors.New("torn or damaged frame")

// oldMutation is one change of an old log group.
type oldMutation struct {
	bucket byte
	key    []byte
	value  []byte
	del    bool
}

type oldGroup struct {
	seq  uint64
	muts []oldMutation
}

// replayOldWAL applies what an old build's log holds and bbolt lacks, then removes the log
// folder. A data folder without one is left alone.
func (q *Queue) replayOldWAL() error {
	dir := filepath.Join(q.opts.Dir, oldWALDir)
	firsts, err := listOldSegments(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replay the old write-ahead log: %w", err)
	}
	var applied uint64
	if err := q.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyWALApplied); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		return nil
	}); err != nil {
		return err
	}
	var groups []*oldGroup
	last := applied
	stopped := ""
	for _, first := range firsts {
		if first > last+1 {
			stopped = fmt.Sprintf("group %d is missing", last+1)
			break
		}
		end := false
		err := readOldSegment(filepath.Join(dir, fmt.Sprintf("%016x%s", first, oldWALSuffix)), first, func(g *oldGroup) {
			if g.seq <= last {
				return
			}
			if g.seq != last+1 {
				end = true
				return
			}
			groups = append(groups, g)
			last = g.seq
		})
		if err != nil {
			return fmt.Errorf("replay the old write-ahead log: %w", err)
		}
		if end {
			stopped = fmt.Sprintf("group %d is missing", last+1)
			break
		}
	}
	if len(groups) > 0 {
		err := q.db.Update(func(tx *bolt.Tx) error {
			if err := applyOldGroups(tx, groups); err != nil {
				return err
			}
			return tx.Bucket(bucketMeta).Put(keyWALApplied, u64(last))
		})
		if err != nil {
			return fmt.Errorf("replay the old write-ahead log: %w", err)
		}
		q.log.Info("applied changes left in the old write-ahead log", "groups", len(groups))
	}
	if stopped != "" {
		q.log.Warn("the old write-ahead log ends early; what follows was never acknowledged", "at", stopped)
	}
	// Applied groups are skipped if the log is read again (meta/walApplied): a file that
	// cannot be removed now (antivirus, backup) is removed at a later open.
	if err := os.RemoveAll(dir); err != nil {
		q.log.Warn("could not remove the old write-ahead log after applying it; it is removed at a later start", "err", err)
		return nil
	}
	return durable.SyncDir(q.opts.Dir)
}

// applyOldGroups writes the last change of each key of groups through tx.
func applyOldGroups(tx *bolt.Tx, gs []*oldGroup) error {
	var muts []*oldMutation
	for _, g := range gs {
		for i := range g.muts {
			muts = append(muts, &g.muts[i])
		}
	}
	slices.SortStableFunc(muts, func(a, b *oldMutation) int {
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
	records, jobs := tx.Bucket(bucketRecords), tx.Bucket(bucketJobs)
	for i, m := range muts {
		if i+1 < len(muts) && muts[i+1].bucket == m.bucket && bytes.Equal(muts[i+1].key, m.key) {
			continue
		}
		b := records
		if m.bucket == walBucketJobs {
			b = jobs
		}
		var err error
		if m.del {
			err = b.Delete(m.key)
		} else {
			err = b.Put(m.key, m.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listOldSegments returns the first group numbers of the log files in dir, in order.
func listOldSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var firsts []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), oldWALSuffix)
		if !ok {
			continue // a spare: zeros
		}
		n, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		firsts = append(firsts, n)
	}
	slices.Sort(firsts)
	return firsts, nil
}

// readOldSegment calls fn for each group of the log file at path, from its start, up to
// the first frame that does not check out or is not numbered on from the one before.
func readOldSegment(path string, first uint64, fn func(*oldGroup)) error {
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
		g, n, err := readOldFrame(r, size-off)
		if errors.Is(err, errWALTorn) || (err == nil && g.seq != next) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read at byte %d: %w", filepath.Base(path), off, err)
		}
		fn(g)
		off += int64(n)
		next++
	}
	return nil
}

// readOldFrame reads one frame from r, which has rest bytes left.
func readOldFrame(r *bufio.Reader, rest int64) (*oldGroup, int, error) {
	var hdr [oldWALFrameHeader]byte
	if k, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, k, errWALTorn
	}
	l := binary.BigEndian.Uint32(hdr[:])
	n := oldWALFrameHeader + int(l)
	if l == 0 || l > oldWALMaxFrame || int64(n) > rest {
		return nil, n, errWALTorn
	}
	p := make([]byte, l)
	if _, err := io.ReadFull(r, p); err != nil {
		return nil, n, errWALTorn
	}
	if crc32.Checksum(p, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
		return nil, n, errWALTorn
	}
	g, err := decodeOldGroup(p)
	return g, n, err
}

// decodeOldGroup parses a frame's payload.
func decodeOldGroup(p []byte) (*oldGroup, error) {
	g := &oldGroup{}
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
	field := func() ([]byte, bool) {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return nil, false
		}
		b := p[n : n+int(l)]
		p = p[n+int(l):]
		return b, true
	}
	for range count {
		if len(p) < 2 || (p[0] != oldMutPut && p[0] != oldMutDelete) {
			return nil, errWALTorn
		}
		m := oldMutation{bucket: p[1], del: p[0] == oldMutDelete}
		p = p[2:]
		var ok bool
		if m.key, ok = field(); !ok {
			return nil, errWALTorn
		}
		if !m.del {
			if m.value, ok = field(); !ok {
				return nil, errWALTorn
			}
		}
		g.muts = append(g.muts, m)
	}
	if len(p) != 0 {
		return nil, errWALTorn
	}
	return g, nil
}
