package writeback

import (
	"bytes"
	"io"
	"sync"
)

// A Spool stores attachment content while Decode reads a document, so that content is never
// held in memory whole.
//
// Decode calls Create once for each attachment, with the attachment's index in the
// document's attachments array, writes the decoded bytes to the returned writer as they are
// decoded and closes it at the end of the attachment's data, or as soon as decoding fails.
// When Decode returns an error the spool may hold partial content: the caller should discard
// everything it created.
type Spool interface {
	Create(index int) (io.WriteCloser, error)
}

// MemorySpool is a Spool that keeps attachment content in memory, for tests, fuzzing and
// small documents. The zero value is ready to use; it is safe for concurrent use.
type MemorySpool struct {
	mu    sync.Mutex
	files map[int]*bytes.Buffer
}

// Create returns a writer that stores the content of attachment index, replacing any content
// stored before under that index.
func (s *MemorySpool) Create(index int) (io.WriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = make(map[int]*bytes.Buffer)
	}
	f := &memFile{spool: s, buf: new(bytes.Buffer)}
	s.files[index] = f.buf
	return f, nil
}

// Bytes returns the content stored for attachment index and whether there is any.
func (s *MemorySpool) Bytes(index int) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[index]
	if !ok {
		return nil, false
	}
	return b.Bytes(), true
}

// Len returns how many attachments the spool holds.
func (s *MemorySpool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}

// memFile is the writer MemorySpool.Create returns.
type memFile struct {
	spool *MemorySpool
	buf   *bytes.Buffer
}

func (f *memFile) Write(p []byte) (int, error) {
	f.spool.mu.Lock()
	defer f.spool.mu.Unlock()
	return f.buf.Write(p)
}

func (f *memFile) Close() error { return nil }

// DiscardSpool is a Spool that throws attachment content away. Decoding with it checks a
// document, and records each attachment's size and SHA-256, without storing anything.
var DiscardSpool Spool = discardSpool{}

type discardSpool struct{}

func (discardSpool) Create(int) (io.WriteCloser, error) { return nopWriteCloser{io.Discard}, nil }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
