package queue

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/writeback-agent/wbagent/agent/durable"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Attachments are kept out of the database: a 5 MB value inside bbolt cost 23 MB of device
// writes and left the file 2.2 times larger. Each is an encrypted file in the blobs folder
// named after its record id and position, written and synced before the record is committed;
// files with no committed record are removed when the queue opens.

const blobSuffix = ".att"

func blobName(id uint64, index int) string {
	return fmt.Sprintf("%016x-%02d%s", id, index, blobSuffix)
}

// parseBlobName returns the record id of a blob file name.
func parseBlobName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, blobSuffix)
	if !ok {
		return 0, false
	}
	idHex, _, ok := strings.Cut(base, "-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseUint(idHex, 16, 64)
	return id, err == nil
}

func blobAD(id uint64, index int) []byte {
	ad := make([]byte, 0, len(adBlob)+12)
	ad = append(ad, adBlob...)
	ad = binary.BigEndian.AppendUint64(ad, id)
	return binary.BigEndian.AppendUint32(ad, uint32(index))
}

// Stage collects a writeback's attachments as encrypted files before its record is
// committed. It implements writeback.Spool, so a document can be decoded straight into it.
// A Stage belongs to one Enqueue; if the writeback is not enqueued, call Discard.
type Stage struct {
	q  *Queue
	id uint64

	mu    sync.Mutex
	files map[int]string  // index → final path; nil until the first attachment is staged
	tmps  map[string]bool // nil likewise: most writebacks have no attachments
}

// NewStage allocates the id the next record will have and returns its stage.
func (q *Queue) NewStage() *Stage {
	return &Stage{q: q, id: q.nextID.Add(1)}
}

// Create returns a writer that encrypts attachment index into its file. The file becomes
// part of the stage when the writer is closed without error.
func (s *Stage) Create(index int) (io.WriteCloser, error) {
	final := filepath.Join(s.q.blobs, blobName(s.id, index))
	f, err := os.OpenFile(final+".tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue: stage attachment %d: %w", index, err)
	}
	s.mu.Lock()
	if s.tmps == nil {
		s.files, s.tmps = map[int]string{}, map[string]bool{}
	}
	s.tmps[f.Name()] = true
	s.mu.Unlock()
	bw := bufio.NewWriterSize(f, 64<<10)
	ew, err := s.q.sealer.EncryptWriter(bw, blobAD(s.id, index))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("queue: stage attachment %d: %w", index, err)
	}
	return &blobWriter{stage: s, index: index, final: final, f: f, bw: bw, ew: ew}, nil
}

// Discard removes every file of the stage. It is safe to call more than once.
func (s *Stage) Discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tmp := range s.tmps {
		os.Remove(tmp)
	}
	for _, f := range s.files {
		os.Remove(f)
	}
	s.files, s.tmps = nil, nil
}

// sync makes the stage's renames durable before the record naming them commits.
func (s *Stage) sync() error {
	s.mu.Lock()
	n := len(s.files)
	s.mu.Unlock()
	if n == 0 {
		return nil
	}
	return durable.SyncDir(s.q.blobs)
}

func (s *Stage) has(index int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[index]
	return ok
}

type blobWriter struct {
	stage *Stage
	index int
	final string
	f     *os.File
	bw    *bufio.Writer
	ew    io.WriteCloser
	done  bool
}

func (w *blobWriter) Write(p []byte) (int, error) { return w.ew.Write(p) }

// Close finishes the encrypted stream, syncs the file and gives it its final name.
func (w *blobWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := errors.Join(w.ew.Close(), w.bw.Flush(), w.f.Sync())
	err = errors.Join(err, w.f.Close())
	if err == nil {
		err = os.Rename(w.f.Name(), w.final)
	}
	s := w.stage
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		os.Remove(w.f.Name())
		delete(s.tmps, w.f.Name())
		return fmt.Errorf("stage attachment %d: %w", w.index, s.q.noteFailure(err))
	}
	delete(s.tmps, w.f.Name())
	if s.files == nil { // discarded while this file was written
		s.files = map[int]string{}
	}
	s.files[w.index] = w.final
	return nil
}

// removeBlobs deletes a record's attachment files (after retention or a dedupe).
func (q *Queue) removeBlobs(id uint64, refs []AttachmentRef) {
	for _, a := range refs {
		if err := os.Remove(filepath.Join(q.blobs, blobName(id, a.Index))); err != nil && !errors.Is(err, os.ErrNotExist) {
			q.log.Warn("could not remove an attachment file; it is removed at the next start", "record", id, "err", err)
		}
	}
}

// sweepOrphanBlobs removes attachment files that no record with content names: leftovers of
// an enqueue interrupted by a crash, or of a record whose content was wiped.
func (q *Queue) sweepOrphanBlobs() error {
	entries, err := os.ReadDir(q.blobs)
	if err != nil {
		return fmt.Errorf("sweep attachments: %w", err)
	}
	if len(entries) == 0 {
		return nil
	}
	removed := 0
	err = q.db.View(func(tx *bolt.Tx) error {
		records := tx.Bucket(bucketRecords)
		for _, e := range entries {
			id, ok := parseBlobName(e.Name())
			if ok && records.Get(recordKey(id, kindBody)) != nil {
				continue
			}
			if err := os.Remove(filepath.Join(q.blobs, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			removed++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep attachments: %w", err)
	}
	if removed > 0 {
		q.log.Info("removed attachment files left by an interrupted enqueue or by retention", "files", removed)
	}
	return nil
}

var _ writeback.Spool = (*Stage)(nil)
