package writeback

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/docs"
)

// exampleDoc returns the published example document as a generic JSON value, to be
// changed by a test and encoded with encodeDoc.
func exampleDoc(t testing.TB) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(docs.ExampleWriteback))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("parse example: %v", err)
	}
	return m
}

// encodeDoc encodes a generic JSON value without escaping HTML characters.
func encodeDoc(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encode test document: %v", err)
	}
	return b.Bytes()
}

// obj returns the object at a dotted path of m such as "patient" or "codes.1".
func obj(t testing.TB, m map[string]any, path string) map[string]any {
	t.Helper()
	var cur any = m
	if path != "" {
		for _, k := range strings.Split(path, ".") {
			switch v := cur.(type) {
			case map[string]any:
				cur = v[k]
			case []any:
				i := 0
				for _, c := range k {
					i = i*10 + int(c-'0')
				}
				cur = v[i]
			}
		}
	}
	o, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("no object at %q", path)
	}
	return o
}

// problemsOf returns the problems of err, failing the test if err is not a validation
// error.
func problemsOf(t testing.TB, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is not a *ValidationError: %v", err)
	}
	if len(ve.Problems) == 0 {
		t.Fatalf("ValidationError without problems: %v", err)
	}
	return ve.Problems
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// base64Zeros is a reader of the standard base64 encoding of n zero bytes, produced on the
// fly so that tests of large attachments do not hold them in memory.
type base64Zeros struct {
	full int64  // 'A' characters left before the tail
	tail string // the last, padded quantum
}

func newBase64Zeros(n int64) *base64Zeros {
	z := &base64Zeros{full: n / 3 * 4}
	switch n % 3 {
	case 1:
		z.tail = "AA=="
	case 2:
		z.tail = "AAA="
	}
	return z
}

var manyAs = strings.Repeat("A", 4096)

func (z *base64Zeros) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && z.full > 0 {
		k := copy(p[n:], manyAs[:min(z.full, int64(len(manyAs)))])
		n += k
		z.full -= int64(k)
	}
	if z.full == 0 {
		c := copy(p[n:], z.tail)
		z.tail = z.tail[c:]
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// largeDocument returns a reader of a valid document with one attachment per size, each of
// that many zero bytes, generated on the fly.
func largeDocument(t testing.TB, sizes ...int64) io.Reader {
	t.Helper()
	m := exampleDoc(t)
	delete(m, "attachments")
	head := encodeDoc(t, m)
	head = bytes.TrimRight(head, "\n")
	head = head[:len(head)-1] // drop the closing brace
	readers := []io.Reader{bytes.NewReader(head), strings.NewReader(`,"attachments":[`)}
	for i, size := range sizes {
		if i > 0 {
			readers = append(readers, strings.NewReader(","))
		}
		readers = append(readers,
			strings.NewReader(`{"fileName":"zeros.bin","mediaType":"application/octet-stream","dataBase64":"`),
			newBase64Zeros(size),
			strings.NewReader(`"}`))
	}
	readers = append(readers, strings.NewReader("]}\n"))
	return io.MultiReader(readers...)
}

// sizeSpool is a Spool that records how many bytes each attachment received and whether
// its writer was closed.
type sizeSpool struct {
	sizes  map[int]int64
	closed map[int]bool
}

func newSizeSpool() *sizeSpool {
	return &sizeSpool{sizes: map[int]int64{}, closed: map[int]bool{}}
}

func (s *sizeSpool) Create(i int) (io.WriteCloser, error) {
	return &sizeWriter{s, i}, nil
}

type sizeWriter struct {
	s *sizeSpool
	i int
}

func (w *sizeWriter) Write(p []byte) (int, error) {
	w.s.sizes[w.i] += int64(len(p))
	return len(p), nil
}

func (w *sizeWriter) Close() error {
	w.s.closed[w.i] = true
	return nil
}
