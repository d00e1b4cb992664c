package emisx

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// A FileRecord body carries every attachment of a writeback base64-encoded, tens of megabytes
// in all. It is never built in memory: a goroutine writes it into an io.Pipe that is the
// request's body, the JSON's fixed parts (small, encoded beforehand) in turn with each
// attachment streamed from its reader through a base64 encoder into its attachmentData
// string. Memory use is a few small buffers, whatever the attachments' size.
//
// The document's last bytes are written only after every attachment has been read to io.EOF
// (so authenticated, see clinical.Attachment) and found of its Size. If a reader fails, the
// pipe is closed with the error, the transport aborts the request and the server is left
// with a truncated body: never a complete document.

// bodyBuffer is the size of the buffer between the encoder and the pipe, so that the pipe
// (which hands each write over to the transport) is not written a kilobyte at a time.
const bodyBuffer = 32 << 10

// streamedBody is a JSON document with attachments' content streamed into it: parts[i] comes
// before attachment i's base64 content, and the last part after the last attachment's.
type streamedBody struct {
	parts  [][]byte
	atts   []clinical.Attachment
	length int64 // exactly, in bytes; -1 if an attachment's size is not known
}

// newStreamedBody builds the FileRecord body of rec and the attachments, whose messages
// msgs (one per attachment, in order) take the base64 content as their attachmentData.
func newStreamedBody(rec medicalRecord, msgs []attachment, atts []clinical.Attachment) (*streamedBody, error) {
	if len(msgs) != len(atts) {
		return nil, errors.New("one attachment message per attachment")
	}
	rec.AttachmentList = nil
	if len(atts) == 0 {
		doc, err := json.Marshal(rec)
		if err != nil {
			return nil, err
		}
		return &streamedBody{parts: [][]byte{doc}, length: int64(len(doc))}, nil
	}
	// {…record…,"attachmentList":[{…attachment 1…,"attachmentData":"<base64>"},{…},…]}
	head, err := openObject(rec)
	if err != nil {
		return nil, err
	}
	head = append(head, `"attachmentList":[`...)
	b := &streamedBody{atts: atts}
	for _, m := range msgs {
		obj, err := openObject(m)
		if err != nil {
			return nil, err
		}
		head = append(append(head, obj...), `"attachmentData":"`...)
		b.parts = append(b.parts, head)
		head = []byte(`"},`)
	}
	b.parts = append(b.parts, []byte(`"}]}`))
	for _, p := range b.parts {
		b.length += int64(len(p))
	}
	for _, a := range atts {
		switch {
		case a.Open == nil:
			return nil, errors.New("an attachment has no content to open")
		case a.Size < 0:
			b.length = -1
		case b.length >= 0:
			// Padded base64; its alphabet needs no escaping in a JSON string.
			b.length += (a.Size + 2) / 3 * 4
		}
	}
	return b, nil
}

// openObject returns the JSON object v encodes without its closing brace, and with a comma
// if it has members: ready for more members.
func openObject(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, errors.New("not a JSON object")
	}
	b = b[:len(b)-1]
	if len(b) > 1 {
		b = append(b, ',')
	}
	return b, nil
}

// errUploadEnded closes the body of a request whose answer has come (or that failed): what
// is left of it is not sent.
var errUploadEnded = errors.New("the request has ended")

// upload is one request's sending of a streamedBody: maybe several times over, as the
// transport may send a request again (GetBody), each time from the start and with the
// attachments opened afresh. finish ends it.
type upload struct {
	body *streamedBody

	mu      sync.Mutex
	ended   bool
	readers []*io.PipeReader
	writers sync.WaitGroup
	failure error // the first attachment that could not be read, as an *attachmentError
}

func (b *streamedBody) upload() *upload { return &upload{body: b} }

// open returns a new reader of the whole body. Its writer starts at the first Read, so that
// a body the transport never reads holds no goroutine and no open attachment.
func (u *upload) open() (io.ReadCloser, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		return nil, errUploadEnded
	}
	pr, pw := io.Pipe()
	u.readers = append(u.readers, pr)
	return &pipeBody{pr: pr, start: func() { u.start(pw) }}, nil
}

func (u *upload) start(pw *io.PipeWriter) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ended {
		pw.CloseWithError(errUploadEnded)
		return
	}
	u.writers.Add(1)
	go func() {
		defer u.writers.Done()
		pw.CloseWithError(u.write(pw)) // nil: the reader sees io.EOF
	}()
}

// finish stops what is still being written of the body (nothing, once the server has read it
// all), waits until every attachment reader is closed, and returns the attachment failure
// that aborted the request, if one did.
func (u *upload) finish() error {
	u.mu.Lock()
	u.ended = true
	readers := u.readers
	u.mu.Unlock()
	for _, pr := range readers {
		pr.CloseWithError(errUploadEnded)
	}
	u.writers.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.failure
}

// write writes the body to w, and fails if w does or an attachment cannot be read whole.
func (u *upload) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, bodyBuffer)
	b := u.body
	for i, a := range b.atts {
		if _, err := bw.Write(b.parts[i]); err != nil {
			return err
		}
		if err := u.copyAttachment(bw, i, a); err != nil {
			return err
		}
	}
	if _, err := bw.Write(b.parts[len(b.parts)-1]); err != nil {
		return err
	}
	return bw.Flush()
}

// copyAttachment writes attachment i base64-encoded to w: all of it, to io.EOF, and exactly
// its Size when that is known (the request's length counts on it).
func (u *upload) copyAttachment(w io.Writer, i int, a clinical.Attachment) error {
	rc, err := a.Open()
	if err != nil {
		return u.fail(i, err)
	}
	defer rc.Close()
	src := &sourceReader{r: rc}
	enc := base64.NewEncoder(base64.StdEncoding, w)
	var n int64
	if a.Size < 0 {
		n, err = io.Copy(enc, src)
	} else {
		n, err = io.Copy(enc, io.LimitReader(src, a.Size))
	}
	switch {
	case src.err != nil:
		return u.fail(i, src.err)
	case err != nil:
		return err // w failed: the request ended
	case a.Size >= 0 && n < a.Size:
		return u.fail(i, fmt.Errorf("%w: %d bytes short", errSizeMismatch, a.Size-n))
	}
	if a.Size >= 0 {
		// Read on to io.EOF: only there is the content authenticated.
		var one [1]byte
		switch m, err := io.ReadFull(src, one[:]); {
		case m > 0:
			return u.fail(i, fmt.Errorf("%w: longer", errSizeMismatch))
		case err != io.EOF:
			return u.fail(i, err)
		}
	}
	return enc.Close()
}

var errSizeMismatch = errors.New("the content is not of its announced size")

// fail records that attachment i could not be read, and returns the error that aborts the
// request.
func (u *upload) fail(i int, err error) error {
	ae := &attachmentError{index: i, err: err}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failure == nil {
		u.failure = ae
	}
	return ae
}

// attachmentError is the failure to read an attachment. It names the attachment by its
// position only: a file name may be patient data.
type attachmentError struct {
	index int
	err   error
}

func (e *attachmentError) Error() string {
	return fmt.Sprintf("attachment %d could not be read: %v", e.index+1, e.err)
}

func (e *attachmentError) Unwrap() error { return e.err }

// sourceReader keeps the error its reader failed with, to tell it from the destination's.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// pipeBody is a request body read from a pipe whose writer starts at the first Read.
type pipeBody struct {
	pr    *io.PipeReader
	once  sync.Once
	start func()
}

func (p *pipeBody) Read(b []byte) (int, error) {
	p.once.Do(p.start)
	return p.pr.Read(b)
}

func (p *pipeBody) Close() error { return p.pr.Close() }
