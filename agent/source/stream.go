package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/writeback-agent/wbagent/agent/source/platformapi"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// Caps on a pulled page, so that a broken or malicious platform cannot exhaust the PC's
// memory: a page is read as a stream, one item at a time, and refused once it breaks one.
const (
	// MaxItemBytes bounds one item as sent: the largest writeback (its attachments in
	// base64, its metadata) with room for the item's own fields.
	MaxItemBytes = writeback.MaxTotalAttachBytes*4/3 + writeback.MaxMetadataBytes + 1<<20
	// MaxPageBytes bounds a whole page.
	MaxPageBytes = 512 << 20
)

// ErrPageRefused is wrapped by the error of a page that breaks a cap or the contract.
var ErrPageRefused = errors.New("platform page refused")

// PullEach asks for the next page after cursor ("" from the start) and calls fn with each
// item as it is read, holding one item in memory at a time. It returns the page's next
// cursor and how many items it had. A page with more items than limit, an item larger than
// MaxItemBytes, or a page larger than MaxPageBytes is refused (ErrPageRefused) as soon as
// it is seen; items already given to fn are the caller's to discard.
func (c *Client) PullEach(ctx context.Context, cursor string, limit int, fn func(platformapi.Item) error) (string, int, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	resp, err := c.send(ctx, "pull", http.MethodGet, "/writebacks?"+q.Encode(), nil)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	body := &cappedReader{r: resp.Body, limit: MaxPageBytes, page: MaxPageBytes}
	next, n, err := readPage(json.NewDecoder(body), body, limit, fn)
	if err != nil {
		return "", n, fmt.Errorf("platform pull: %w", err)
	}
	return next, n, nil
}

// readPage reads {"items": [...], "nextCursor": "..."} (keys in any order, unknown keys
// skipped within the item cap).
func readPage(dec *json.Decoder, body *cappedReader, limit int, fn func(platformapi.Item) error) (string, int, error) {
	var next string
	n := 0
	if err := expect(dec, '{'); err != nil {
		return "", 0, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", n, answerError(err)
		}
		key, _ := tok.(string)
		body.capNext(dec.InputOffset())
		switch key {
		case "items":
			if err := expect(dec, '['); err != nil {
				return "", n, err
			}
			for dec.More() {
				if n == limit {
					return "", n, fmt.Errorf("%w: more than the %d items asked for", ErrPageRefused, limit)
				}
				body.capNext(dec.InputOffset())
				var it platformapi.Item
				if err := dec.Decode(&it); err != nil {
					return "", n, answerError(err)
				}
				n++
				if err := fn(it); err != nil {
					return "", n, err
				}
			}
			if err := expect(dec, ']'); err != nil {
				return "", n, err
			}
		case "nextCursor":
			if err := dec.Decode(&next); err != nil {
				return "", n, answerError(err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return "", n, answerError(err)
			}
		}
	}
	if err := expect(dec, '}'); err != nil {
		return "", n, err
	}
	return next, n, nil
}

func expect(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return answerError(err)
	}
	if tok != d {
		return fmt.Errorf("%w: the answer is not the JSON expected (want %q)", ErrPageRefused, d)
	}
	return nil
}

// answerError names a failure to read the page: a cap broken, the JSON malformed, or the
// connection lost.
func answerError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("%w: %w", ErrPageRefused, err)
	case errors.As(err, &se), errors.As(err, &te), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: the answer is not the JSON expected", ErrPageRefused)
	}
	return fmt.Errorf("read answer: %w", err)
}

var errTooLarge = fmt.Errorf("an item is larger than %d MiB, or the page larger than %d MiB", MaxItemBytes>>20, MaxPageBytes>>20)

// cappedReader fails with errTooLarge once more than limit bytes were read: the page's cap,
// or the current item's (capNext).
type cappedReader struct {
	r     io.Reader
	read  int64
	limit int64
	page  int64
}

// capNext bounds what may be read for the value starting at offset (the decoder's input
// offset; it may have read ahead of it by no more than its buffer).
func (c *cappedReader) capNext(offset int64) {
	c.limit = min(offset+MaxItemBytes+64<<10, c.page)
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.read >= c.limit {
		return 0, errTooLarge
	}
	if room := c.limit - c.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	return n, err
}
