package emisx_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
)

// bytesAttachment is an attachment whose content is in memory.
func bytesAttachment(name, mediaType string, b []byte) clinical.Attachment {
	return clinical.Attachment{FileName: name, MediaType: mediaType, Size: int64(len(b)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// digest identifies content by its length and SHA-256.
type digest struct {
	n   int64
	sum [sha256.Size]byte
}

func digestOf(t *testing.T, r io.Reader) digest {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatal(err)
	}
	d := digest{n: n}
	h.Sum(d.sum[:0])
	return d
}

// content is generated attachment content: size pseudo-random bytes, produced as they are
// read and never held, whose digest is known beforehand.
type content struct {
	size  int64
	seed  byte
	want  digest
	opens atomic.Int32
}

func generated(t *testing.T, size int64, seed byte) *content {
	c := &content{size: size, seed: seed}
	c.want = digestOf(t, c.stream())
	return c
}

func (c *content) stream() io.Reader {
	var s [32]byte
	s[0] = c.seed
	return io.LimitReader(rand.NewChaCha8(s), c.size)
}

// attachment returns the content as an attachment; wrap, if given, wraps each reader opened.
func (c *content) attachment(wrap func(io.Reader) io.Reader) clinical.Attachment {
	return clinical.Attachment{FileName: "scan.pdf", MediaType: "application/pdf", Size: c.size,
		Open: func() (io.ReadCloser, error) {
			c.opens.Add(1)
			r := c.stream()
			if wrap != nil {
				r = wrap(r)
			}
			return io.NopCloser(r), nil
		}}
}

// failAfter is a reader that gives n bytes of r, then fails with err (instead of io.EOF, if
// r ends there): an attachment found tampered with at that point.
type failAfter struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func largeFiling(guid string, atts ...clinical.Attachment) *clinical.Filing {
	return &clinical.Filing{ClinicalUserID: "1001", PatientID: "500001", ConsultationGUID: clinical.ConsultationGUID("A12345", guid),
		Date: time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC), Summary: "Scanned letter.", Attachments: atts}
}

// simAttachments returns the digests of the attachments the practice holds, in filing order.
func (h *harness) simAttachments() []digest {
	h.t.Helper()
	var out []digest
	for _, c := range h.Consultations() {
		for _, a := range c.Record.AttachmentList {
			out = append(out, digestOf(h.t, base64.NewDecoder(base64.StdEncoding, strings.NewReader(a.AttachmentData))))
		}
	}
	return out
}

// lengths records the Content-Length of each FileRecord request (-1: chunked).
type lengths struct {
	next http.RoundTripper
	mu   sync.Mutex
	got  []int64
}

func (l *lengths) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/FileRecord") {
		l.mu.Lock()
		l.got = append(l.got, r.ContentLength)
		l.mu.Unlock()
	}
	return l.next.RoundTrip(r)
}

// TestFileStreamsLargeAttachmentsToThePractice files a 20 MB attachment (and a small one)
// with its size announced, and a 1 MB one of unknown size (sent chunked), through the
// simulated practice, each request checked against the Partner API document: the practice
// holds the exact bytes. Under the race detector, which makes the contract checks' and the
// simulator's decoding of a 27 MB document take half a minute, the large attachment is 4 MB
// (TestFilingMemoryDoesNotGrowWithAttachmentSize still files 20 MB, to a lighter server).
func TestFileStreamsLargeAttachmentsToThePractice(t *testing.T) {
	large := int64(20 << 20)
	if raceDetector {
		large = 4 << 20
	}
	tests := []struct {
		name    string
		size    int64
		unknown bool
	}{
		{"large, size known", large, false},
		{"1 MB, size unknown", 1 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &lengths{}
			h := newHarness(t, func(c *emisx.Config) {
				rec.next = c.HTTPClient.Transport
				c.HTTPClient.Transport = rec
				c.HTTPClient.Timeout = time.Minute
			})
			user := h.link(h.GP())
			big := generated(t, tt.size, 1)
			att := big.attachment(nil)
			if tt.unknown {
				att.Size = -1
			}
			f := filing(user, h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", "large"))
			f.Attachments = append(f.Attachments, att)
			if _, err := h.client.File(ctx, f); err != nil {
				t.Fatal(err)
			}
			got := h.simAttachments()
			if want := []digest{{n: int64(len(png)), sum: sha256.Sum256(png)}, big.want}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Errorf("the practice holds attachments %v, want %v", got, want)
			}
			if n := big.opens.Load(); n != 1 {
				t.Errorf("attachment opened %d times, want once", n)
			}
			if len(rec.got) != 1 || (rec.got[0] == -1) != tt.unknown {
				t.Errorf("Content-Length %v (-1: chunked); size unknown %t", rec.got, tt.unknown)
			}
		})
	}
}

// replayOnce is a transport that, as the HTTP layer may, abandons the first FileRecord body
// part-way and sends the request again with a body from GetBody.
type replayOnce struct {
	next http.RoundTripper
	done atomic.Bool
}

func (r *replayOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/FileRecord") || r.done.Swap(true) {
		return r.next.RoundTrip(req)
	}
	if _, err := io.CopyN(io.Discard, req.Body, 100<<10); err != nil {
		return nil, err
	}
	req.Body.Close()
	if req.GetBody == nil {
		return nil, errors.New("the request cannot be sent again: no GetBody")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	again := req.Clone(req.Context())
	again.Body = body
	return r.next.RoundTrip(again)
}

// TestARequestSentAgainStreamsItsBodyAnew: a request the transport sends again (GetBody),
// or that the adapter sends again with a refreshed token, reads the attachment again from
// its start, and the practice holds the exact bytes once.
func TestARequestSentAgainStreamsItsBodyAnew(t *testing.T) {
	for _, c := range []struct {
		name   string
		config []func(*emisx.Config)
		before func(h *harness) // after linking, before filing
		size   int64
		seed   byte
		guid   string
		why    string
	}{
		{name: "by the transport", size: 2 << 20, seed: 2, guid: "replayed", why: "sent, then sent again by the transport",
			config: []func(*emisx.Config){func(c *emisx.Config) { c.HTTPClient.Transport = &replayOnce{next: c.HTTPClient.Transport} }}},
		// The practice refuses the token its source thinks valid; the attachment is small,
		// so the refusal comes before the practice reads the body.
		{name: "with a refreshed token", size: 100 << 10, seed: 3, guid: "refreshed", why: "refused, then sent again",
			before: func(h *harness) { h.Clock.Advance(2 * time.Hour) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.config...)
			user := h.link(h.GP())
			if c.before != nil {
				c.before(h)
			}
			big := generated(t, c.size, c.seed)
			f := filing(user, h.Patient(fixtures.FirstPatientNumber), clinical.ConsultationGUID("A12345", c.guid))
			f.Attachments = []clinical.Attachment{big.attachment(nil)}
			if _, err := h.client.File(ctx, f); err != nil {
				t.Fatal(err)
			}
			if got := h.simAttachments(); len(got) != 1 || got[0] != big.want {
				t.Errorf("the practice holds %v, want %v", got, big.want)
			}
			if n := big.opens.Load(); n != 2 {
				t.Errorf("attachment opened %d times, want twice (%s)", n, c.why)
			}
		})
	}
}

// streamServer stands in for the Partner API's FileRecord without holding what it receives:
// it hashes each attachment's content as it arrives, so that it costs the test process a
// few small buffers however large the attachments. Any other operation answers 404 (File
// then returns the consultation without its id).
type streamServer struct {
	srv       *httptest.Server
	firstData chan struct{} // closed when the first byte of attachment content arrives
	first     sync.Once

	mu  sync.Mutex
	got []streamed
}

// streamed is what the server made of one FileRecord request.
type streamed struct {
	contentLength int64 // -1: chunked
	digests       []digest
	err           error // reading the body failed
}

func newStreamServer(t *testing.T) *streamServer {
	s := &streamServer{firstData: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *streamServer) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/FileRecord") {
		http.Error(w, "{}", http.StatusNotFound)
		return
	}
	got := streamed{contentLength: r.ContentLength}
	got.digests, got.err = s.attachmentDigests(r.Body)
	s.mu.Lock()
	s.got = append(s.got, got)
	s.mu.Unlock()
	if got.err != nil {
		http.Error(w, "{}", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *streamServer) received() []streamed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]streamed(nil), s.got...)
}

// client returns an adapter of the server, over a plain transport: the contract checks
// buffer bodies, which this server exists not to do. (The same bodies are checked against
// the document by TestFileStreamsLargeAttachmentsToThePractice.)
func (s *streamServer) client(t *testing.T) *emisx.Client {
	c, err := emisx.New(emisx.Config{BaseURL: s.srv.URL, ApplicationID: sim.ApplicationID,
		Sessions:   staticSessions{&oauth2.Token{AccessToken: "token", Expiry: time.Now().Add(time.Hour)}},
		HTTPClient: &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// attachmentDigests reads a FileRecord body to its end and returns the digest of each
// attachment's content, decoded from its attachmentData as it streams past.
func (s *streamServer) attachmentDigests(body io.Reader) ([]digest, error) {
	const marker = `"attachmentData":"`
	br := bufio.NewReader(body)
	var out []digest
	matched := 0
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch {
		case c == marker[matched]:
			matched++
		case c == marker[0]:
			matched = 1
		default:
			matched = 0
		}
		if matched < len(marker) {
			continue
		}
		matched = 0
		h := sha256.New()
		n, err := io.Copy(h, base64.NewDecoder(base64.StdEncoding, &untilQuote{br: br, s: s}))
		if err != nil {
			return out, err
		}
		d := digest{n: n}
		h.Sum(d.sum[:0])
		out = append(out, d)
	}
}

// untilQuote reads a JSON string's content up to its closing quote (base64 has no escapes).
type untilQuote struct {
	br      *bufio.Reader
	s       *streamServer
	pending []byte
	done    bool
}

func (u *untilQuote) Read(p []byte) (int, error) {
	for len(u.pending) == 0 {
		if u.done {
			return 0, io.EOF
		}
		chunk, err := u.br.ReadSlice('"')
		switch {
		case err == nil:
			u.pending, u.done = chunk[:len(chunk)-1], true
		case errors.Is(err, bufio.ErrBufferFull):
			u.pending = chunk
		case err == io.EOF:
			return 0, io.ErrUnexpectedEOF
		default:
			return 0, err
		}
	}
	u.s.first.Do(func() { close(u.s.firstData) })
	n := copy(p, u.pending)
	u.pending = u.pending[n:]
	return n, nil
}

// allocated returns the bytes the whole process allocated while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestFilingMemoryDoesNotGrowWithAttachmentSize files a 20 MB attachment and measures what
// the whole process allocates meanwhile (runtime.MemStats.TotalAlloc, which counts every
// allocation, whether collected since or not, and does not depend on timing or on when the
// collector runs). The server runs in this process too, so it hashes the body as it arrives
// instead of holding it (streamServer), and the content is generated as it is read: with
// nothing else in the process holding the bytes, any copy of them the adapter made (the
// content, its base64, the JSON) would show as at least 20 MB. A streaming adapter allocates
// a few small buffers; the bound of 4 MB leaves room for the HTTP machinery. A filing of a
// 1 MB attachment first warms the connection and the pools up. No test in this package runs
// in parallel, so nothing else allocates meanwhile.
func TestFilingMemoryDoesNotGrowWithAttachmentSize(t *testing.T) {
	s := newStreamServer(t)
	client := s.client(t)
	small, big := generated(t, 1<<20, 4), generated(t, 20<<20, 5)
	if _, err := client.File(ctx, largeFiling("warm-up", small.attachment(nil))); err != nil {
		t.Fatal(err)
	}
	var err error
	n := allocated(func() { _, err = client.File(ctx, largeFiling("large", big.attachment(nil))) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filing a %d-byte attachment allocated %d bytes", big.size, n)
	if n > 4<<20 {
		t.Errorf("filing a %d MB attachment allocated %d bytes: the attachment is held in memory", big.size>>20, n)
	}
	got := s.received()
	if len(got) != 2 || got[1].err != nil || len(got[1].digests) != 1 || got[1].digests[0] != big.want {
		t.Fatalf("the server received %+v; want the attachment %v", got, big.want)
	}
	if want := int64(len(`"attachmentData":""`)) + (big.size+2)/3*4; got[1].contentLength < want {
		t.Errorf("Content-Length %d, want the exact length (at least %d)", got[1].contentLength, want)
	}
}

// TestFileSendsTheBodyWhileReadingTheAttachment shows the body is streamed, by causality
// rather than timing: the attachment's reader stops halfway until the server has received
// some of the attachment's content. An adapter that built the body before sending it would
// leave the server nothing to receive; the wait is then cut short (the time limit only keeps
// such a failure from hanging) and the filing fails.
func TestFileSendsTheBodyWhileReadingTheAttachment(t *testing.T) {
	s := newStreamServer(t)
	big := generated(t, 8<<20, 6)
	errNotStreamed := errors.New("the server received no content while the attachment was half read")
	halfway := func(r io.Reader) io.Reader {
		return io.MultiReader(io.LimitReader(r, big.size/2), readerFunc(func(p []byte) (int, error) {
			select {
			case <-s.firstData:
				return r.Read(p)
			case <-time.After(30 * time.Second):
				return 0, errNotStreamed
			}
		}))
	}
	if _, err := s.client(t).File(ctx, largeFiling("streamed", big.attachment(halfway))); err != nil {
		t.Fatal(err)
	}
	if got := s.received(); len(got) != 1 || len(got[0].digests) != 1 || got[0].digests[0] != big.want {
		t.Errorf("the server received %+v; want the attachment %v", got, big.want)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestAttachmentThatCannotBeReadAbortsTheFiling: an attachment that fails part-way (its
// content tampered with), at its end (the hash checked there), that cannot be opened, or
// that is not of its size aborts the request. The server never receives a complete body;
// the error says the attachment could not be read, wraps the reader's error and leaves the
// outcome unknown, as for any request cut short.
func TestAttachmentThatCannotBeReadAbortsTheFiling(t *testing.T) {
	errTampered := errors.New("test: attachment tampered with")
	const size = 3 << 20
	tests := []struct {
		name  string
		att   func(c *content) clinical.Attachment
		wraps bool // the error wraps errTampered
		sent  bool // some of the attachment was sent before the failure
	}{
		{name: "fails part-way", wraps: true, sent: true, att: func(c *content) clinical.Attachment {
			return c.attachment(func(r io.Reader) io.Reader { return &failAfter{r: r, n: size / 2, err: errTampered} })
		}},
		{name: "fails part-way, size unknown (chunked)", wraps: true, sent: true, att: func(c *content) clinical.Attachment {
			a := c.attachment(func(r io.Reader) io.Reader { return &failAfter{r: r, n: size / 2, err: errTampered} })
			a.Size = -1
			return a
		}},
		{name: "fails at its end", wraps: true, sent: true, att: func(c *content) clinical.Attachment {
			return c.attachment(func(r io.Reader) io.Reader { return &failAfter{r: r, n: size + 1, err: errTampered} })
		}},
		{name: "cannot be opened", wraps: true, att: func(c *content) clinical.Attachment {
			a := c.attachment(nil)
			a.Open = func() (io.ReadCloser, error) { return nil, errTampered }
			return a
		}},
		{name: "shorter than its size", sent: true, att: func(c *content) clinical.Attachment {
			a := c.attachment(nil)
			a.Size++
			return a
		}},
		{name: "longer than its size", sent: true, att: func(c *content) clinical.Attachment {
			a := c.attachment(nil)
			a.Size--
			return a
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []struct {
				n        int
				err      error
				complete bool
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/FileRecord") {
					http.Error(w, "{}", http.StatusNotFound)
					return
				}
				body, err := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, struct {
					n        int
					err      error
					complete bool
				}{len(body), err, json.Valid(body)})
				mu.Unlock()
				w.WriteHeader(http.StatusNoContent) // a server that would file whatever it got
			}))
			client, err := emisx.New(emisx.Config{BaseURL: srv.URL, ApplicationID: sim.ApplicationID,
				Sessions:   staticSessions{&oauth2.Token{AccessToken: "token", Expiry: time.Now().Add(time.Hour)}},
				HTTPClient: &http.Client{Transport: &http.Transport{}, Timeout: time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			c := generated(t, size, 7)
			_, err = client.File(ctx, largeFiling("aborted", bytesAttachment("photo.png", "image/png", png), tt.att(c)))
			srv.Close() // waits for the handlers

			var ce *clinical.Error
			if !errors.As(err, &ce) || ce.Op != "FileRecord" || ce.Kind != clinical.ErrTransient ||
				ce.Cause != clinical.CauseAttachmentUnreadable || !ce.OutcomeUnknown {
				t.Errorf("error %v; want FileRecord, transient, %s, outcome unknown", err, clinical.CauseAttachmentUnreadable)
			}
			if tt.wraps && !errors.Is(err, errTampered) {
				t.Errorf("error %v does not wrap the reader's", err)
			}
			if err != nil && (strings.Contains(err.Error(), "scan.pdf") || strings.Contains(err.Error(), "500001")) {
				t.Errorf("error %q names the attachment or the patient", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.sent && len(bodies) == 0 {
				t.Error("the server received no request")
			}
			for _, b := range bodies {
				if b.err == nil || b.complete {
					t.Errorf("the server received a complete body (%d bytes, read error %v, valid JSON %t)", b.n, b.err, b.complete)
				}
				if tt.sent && b.n < size/2 {
					t.Errorf("the server received %d bytes: the failure came before the attachment was sent", b.n)
				}
			}
		})
	}
}
