package source

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/writeback-agent/wbagent/agent/source/platformapi"
)

// lazyPage is a page generated as it is read, never held in memory: head, then body
// repeated n times (separated by sep), then tail.
type lazyPage struct {
	parts []string
	n     int
	body  string
	sep   string
	i     int // items written
	buf   []byte
	stage int
	done  atomic.Bool // every item was generated (read by the test while the server writes)
}

func (p *lazyPage) Read(b []byte) (int, error) {
	for len(p.buf) == 0 {
		switch {
		case p.stage == 0:
			p.buf, p.stage = []byte(p.parts[0]), 1
		case p.stage == 1 && p.i < p.n:
			if p.i > 0 {
				p.buf = append(p.buf, p.sep...)
			}
			p.buf = append(p.buf, p.body...)
			p.i++
		case p.stage == 1:
			p.buf, p.stage = []byte(p.parts[1]), 2
			p.done.Store(true)
		default:
			return 0, io.EOF
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	return n, nil
}

func serve(t *testing.T, page func() io.Reader) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.Copy(w, page())
	}))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, "A12345", "cred", nil)
}

// heapGrowth runs f and returns how far the heap in use grew at most, sampled as f runs.
func heapGrowth(f func()) uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var top uint64
		for {
			select {
			case <-done:
				peak <- top
				return
			default:
			}
			var s runtime.MemStats
			runtime.ReadMemStats(&s)
			if s.HeapAlloc > base && s.HeapAlloc-base > top {
				top = s.HeapAlloc - base
			}
			runtime.Gosched()
		}
	}()
	f()
	close(done)
	return <-peak
}

// A page of 1 GiB (one item whose document never ends, generated as it is read) is refused
// once the item passes its cap, without holding the page in memory.
func TestAOneGiBPageIsRefusedWithinTheItemCap(t *testing.T) {
	const gib = 1 << 30
	filler := strings.Repeat("A", 1<<20)
	c := serve(t, func() io.Reader {
		return &lazyPage{parts: []string{`{"items":[{"seq":1,"jobId":"j","document":{"summary":"`, `"}}],"nextCursor":"1"}`},
			n: gib / len(filler), body: filler}
	})
	var err error
	var items int
	grew := heapGrowth(func() {
		_, items, err = c.PullEach(t.Context(), "", platformapi.DefaultLimit, func(platformapi.Item) error { return nil })
	})
	if !errors.Is(err, ErrPageRefused) || items != 0 {
		t.Fatalf("PullEach: %d items, %v; want the page refused", items, err)
	}
	// The decoder's buffer grows by doubling while it reads an item: a few times the item
	// cap at most, far from the page.
	if limit := uint64(5 * MaxItemBytes); grew > limit {
		t.Errorf("the heap grew by %d MiB reading the page; want under %d MiB", grew>>20, limit>>20)
	}
	t.Logf("refused: %v; heap grew by at most %d MiB", err, grew>>20)
}

// A page of 1,000,000 items is refused at the item after the limit asked for, and never
// read further.
func TestAPageOfAMillionItemsIsRefusedAtTheLimit(t *testing.T) {
	page := &lazyPage{parts: []string{`{"items":[`, `],"nextCursor":"x"}`}, n: 1_000_000,
		body: `{"seq":1,"jobId":"j","document":{}}`, sep: ","}
	c := serve(t, func() io.Reader { return page })
	var seen int
	_, _, err := c.PullEach(t.Context(), "", platformapi.DefaultLimit, func(platformapi.Item) error {
		seen++
		return nil
	})
	if !errors.Is(err, ErrPageRefused) || seen != platformapi.DefaultLimit {
		t.Fatalf("PullEach: %d items given, %v; want %d and the page refused", seen, err, platformapi.DefaultLimit)
	}
	if page.done.Load() {
		t.Error("the whole page was generated: it should be refused as soon as it breaks the cap")
	}
}

// A well-formed page is read item by item, keys in any order, unknown keys skipped.
func TestAPageIsReadAsAStream(t *testing.T) {
	body := `{"nextCursor":"7","extra":{"a":[1,2]},"items":[` +
		`{"seq":6,"jobId":"a","document":{"jobId":"a"}},{"seq":7,"jobId":"b","document":{"jobId":"b"}}]}`
	c := serve(t, func() io.Reader { return strings.NewReader(body) })
	var got []string
	next, n, err := c.PullEach(t.Context(), "", 10, func(it platformapi.Item) error {
		got = append(got, fmt.Sprintf("%s=%s", it.JobID, it.Document))
		return nil
	})
	if err != nil || next != "7" || n != 2 || strings.Join(got, " ") != `a={"jobId":"a"} b={"jobId":"b"}` {
		t.Fatalf("next %q, n %d, items %v, err %v", next, n, got, err)
	}
	for _, bad := range []string{`[]`, `{"items":{}}`, `{"items":[1]}`, `{"items":[`, `not json`} {
		c := serve(t, func() io.Reader { return strings.NewReader(bad) })
		if _, _, err := c.PullEach(t.Context(), "", 10, func(platformapi.Item) error { return nil }); !errors.Is(err, ErrPageRefused) {
			t.Errorf("page %s: %v, want refused", bad, err)
		}
	}
}
