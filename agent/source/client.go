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
	"strconv"
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

// Pull returns the next page of writebacks after cursor ("" from the start).
func (c *Client) Pull(ctx context.Context, cursor string, limit int) (*platformapi.Page, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var p platformapi.Page
	if err := c.do(ctx, "pull", http.MethodGet, "/writebacks?"+q.Encode(), nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
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
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("platform %s: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+platformapi.Prefix+"/practices/"+url.PathEscape(c.ods)+path, rd)
	if err != nil {
		return fmt.Errorf("platform %s: %w", op, err)
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
		return fmt.Errorf("platform %s: %w", op, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &StatusError{Op: op, Status: resp.StatusCode}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 512<<20)).Decode(out); err != nil {
		return fmt.Errorf("platform %s: read answer: %w", op, err)
	}
	return nil
}
