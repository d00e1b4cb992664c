package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/writeback-agent/wbagent/agent/source/platformapi"
	"io"
	"net/http"
	"net/url"
	"time"
)

// StatusError is a platform answer other than success. It never carries the credential.
type StatusError struct {
	Op     string
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("platform %s: HTTP %d", e.Op, e.Status)
}

// Client speaks the platform API for one practice.
type Client struct {
	base, ods, credential string
	hc                    *http.Client
}

// NewClient returns a client of the platform at base for the practice.
func NewClient(base, ods, credential string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	return &Client{base: base, ods: ods, credential: credential, hc: hc}
}

// Pull returns the next page of writebacks after cursor ("" from the start), within the
// caps of PullEach.
func (c *Client) Pull(ctx context.Context, cursor string, limit int) (*platformapi.Page, error) {
	p := &platformapi.Page{}
	next, _, err := c.PullEach(ctx, cursor, limit, func(it platformapi.Item) error {
		p.Items = append(p.Items, it)
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.NextCursor = next
	return p, nil
}

// Ack acknowledges jobs the agent has queued durably.
func (c *Client) Ack(ctx context.Context, jobIDs []string) error {
	return c.do(ctx, "ack", http.MethodPost, "/acks", platformapi.Acks{JobIDs: jobIDs}, nil)
}

// Report sends outcomes. The platform takes them idempotently on (jobId, state, reason).
func (c *Client) Report(ctx context.Context, outs []platformapi.Outcome) error {
	return c.do(ctx, "outcomes", http.MethodPost, "/outcomes", platformapi.Outcomes{Outcomes: outs}, nil)
}

func (c *Client) do(ctx context.Context, op, method, path string, body, out any) error {
	resp, err := c.send(ctx, op, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("platform %s: read answer: %w", op, err)
	}
	return nil
}

// send sends a request and returns a successful answer, whose body the caller closes.
func (c *Client) send(ctx context.Context, op, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+platformapi.Prefix+"/practices/"+url.PathEscape(c.ods)+path, rd)
	if err != nil {
		return nil, fmt.Errorf("platform %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.credential)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is harmless, but keep errors short and uniform
		}
		return nil, fmt.Errorf("platform %s: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &StatusError{Op: op, Status: resp.StatusCode}
	}
	return resp, nil
}
