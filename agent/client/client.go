// Package client talks to the service's local API (package localapi) over the local
// socket. The CLI, the tray and the windows use it.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/safesocket"
)

// maxEventBytes bounds one watch event (a state event lists every unfinished record).
const maxEventBytes = 64 << 20

// NotRunningError says nothing answers at the socket: the service is not running (or
// this user may not reach it).
type NotRunningError struct {
	Socket string
	Err    error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("the Writeback Agent service is not running (nothing answers at %s: %v)", e.Socket, e.Err)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// APIError is an error answer from the service.
type APIError struct {
	Status   int    // HTTP status
	Code     string // one of apitype's error codes
	Message  string
	Problems []string // an invalid document's problems
}

func (e *APIError) Error() string {
	if len(e.Problems) > 0 {
		return e.Message + ": " + strings.Join(e.Problems, "; ")
	}
	return e.Message
}

// Client is a local API client. It is safe for concurrent use.
type Client struct {
	hc *http.Client
}

// New returns a client of the service listening at socket.
func New(socket string) *Client {
	return &Client{hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := safesocket.Dial(ctx, socket)
			if err != nil {
				return nil, &NotRunningError{Socket: socket, Err: err}
			}
			return conn, nil
		},
		DisableCompression: true,
	}}}
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a successful response, or the error it answered.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+apitype.Host+path, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var nr *NotRunningError
		if errors.As(err, &nr) {
			return nil, nr
		}
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	var answer apitype.Error
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer); err != nil || answer.Error == "" {
		answer = apitype.Error{Error: resp.Status, Code: apitype.CodeInternal}
	}
	return nil, &APIError{Status: resp.StatusCode, Code: answer.Code, Message: answer.Error, Problems: answer.Problems}
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

func recordPath(route string, id uint64) string {
	return strings.Replace(route, "{id}", strconv.FormatUint(id, 10), 1)
}

// Probe makes the service check the integration now (every linked clinician and the
// platform) and returns what it found. The service bounds the probe; ctx may bound it sooner.
func (c *Client) Probe(ctx context.Context) (*apitype.ProbeResult, error) {
	var res apitype.ProbeResult
	return &res, c.do(ctx, http.MethodPost, apitype.PathProbe, nil, &res)
}

// Status returns the service's status as it sees the caller.
func (c *Client) Status(ctx context.Context) (*apitype.Status, error) {
	var st apitype.Status
	return &st, c.do(ctx, http.MethodGet, apitype.PathStatus, nil, &st)
}

// Queue lists the queued records in states (every state if none), without patient data.
func (c *Client) Queue(ctx context.Context, states ...queue.State) ([]apitype.Record, error) {
	q := url.Values{}
	for _, s := range states {
		q.Add(apitype.QueryState, string(s))
	}
	path := apitype.PathQueue
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []apitype.Record
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Record returns one record; its content only if it is the caller's.
func (c *Client) Record(ctx context.Context, id uint64) (*apitype.RecordDetail, error) {
	var d apitype.RecordDetail
	return &d, c.do(ctx, http.MethodGet, recordPath(apitype.PathRecord, id), nil, &d)
}

// Review returns one record as Record does and, if it is the caller's and waits for
// confirmation, the clinical system's patient for it (RecordDetail.Match), looked up now.
func (c *Client) Review(ctx context.Context, id uint64) (*apitype.RecordDetail, error) {
	var d apitype.RecordDetail
	path := recordPath(apitype.PathRecord, id) + "?" + url.Values{apitype.QueryMatch: {"true"}}.Encode()
	return &d, c.do(ctx, http.MethodGet, path, nil, &d)
}

// maxAttachmentBytes bounds an attachment's content read by Attachment.
const maxAttachmentBytes = 64 << 20

// Attachment returns the content of attachment index (from 0) of the caller's record id.
// Only the record's clinician may read it; the caller must not keep it on disk longer than
// it is shown.
func (c *Client) Attachment(ctx context.Context, id uint64, index int) ([]byte, error) {
	path := strings.Replace(recordPath(apitype.PathAttachment, id), "{index}", strconv.Itoa(index), 1)
	resp, err := c.send(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAttachmentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("client: attachment %d of record %d: %w", index, id, err)
	}
	if len(data) > maxAttachmentBytes {
		return nil, fmt.Errorf("client: attachment %d of record %d is larger than %d bytes", index, id, maxAttachmentBytes)
	}
	return data, nil
}

// Confirm confirms the caller's filing, with their choice of online visibility. version,
// if not 0, is the version they reviewed.
func (c *Client) Confirm(ctx context.Context, id uint64, pfsVisible bool, version uint64) (*apitype.Record, error) {
	var r apitype.Record
	return &r, c.do(ctx, http.MethodPost, recordPath(apitype.PathConfirm, id),
		jsonBody(apitype.ConfirmRequest{PfsVisible: &pfsVisible, Version: version}), &r)
}

// Reject rejects the caller's filing.
func (c *Client) Reject(ctx context.Context, id uint64, reason string) (*apitype.Record, error) {
	var r apitype.Record
	return &r, c.do(ctx, http.MethodPost, recordPath(apitype.PathReject, id), jsonBody(apitype.ReasonRequest{Reason: reason}), &r)
}

// Retry sends a record that needed attention back to be checked, or makes a waiting retry
// due now.
func (c *Client) Retry(ctx context.Context, id uint64) (*apitype.Record, error) {
	var r apitype.Record
	return &r, c.do(ctx, http.MethodPost, recordPath(apitype.PathRetry, id), nil, &r)
}

// Cancel withdraws a record (administrators).
func (c *Client) Cancel(ctx context.Context, id uint64, reason string) (*apitype.Record, error) {
	var r apitype.Record
	return &r, c.do(ctx, http.MethodPost, recordPath(apitype.PathCancel, id), jsonBody(apitype.ReasonRequest{Reason: reason}), &r)
}

// Enqueue queues a writeback/v1 document (administrators). It returns once the record is
// durable.
func (c *Client) Enqueue(ctx context.Context, doc io.Reader) (*apitype.EnqueueResult, error) {
	var r apitype.EnqueueResult
	return &r, c.do(ctx, http.MethodPost, apitype.PathQueue, doc, &r)
}

// LinkState returns where to sign in and the caller's link.
func (c *Client) LinkState(ctx context.Context) (*apitype.LinkState, error) {
	var st apitype.LinkState
	return &st, c.do(ctx, http.MethodGet, apitype.PathLink, nil, &st)
}

// Link hands the caller's sign-in to the service, which verifies and stores it.
func (c *Client) Link(ctx context.Context, req apitype.LinkRequest) (*apitype.LinkState, error) {
	var st apitype.LinkState
	return &st, c.do(ctx, http.MethodPost, apitype.PathLink, jsonBody(req), &st)
}

// Unlink removes the caller's link, or (administrators) the link of the OS user with id
// osUserID.
func (c *Client) Unlink(ctx context.Context, osUserID string) (*apitype.LinkState, error) {
	path := apitype.PathLink
	if osUserID != "" {
		path += "?" + url.Values{apitype.QueryOSUser: {osUserID}}.Encode()
	}
	var st apitype.LinkState
	return &st, c.do(ctx, http.MethodDelete, path, nil, &st)
}

// Diag writes the diagnostics bundle (a zip) to w (administrators).
func (c *Client) Diag(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, apitype.PathDiag, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("client: diagnostics bundle: %w", err)
	}
	return nil
}

// Metrics writes the service's metrics (Prometheus text format) to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, apitype.PathMetrics, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("client: metrics: %w", err)
	}
	return nil
}

// Watcher reads the watch stream.
type Watcher struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Watch opens the watch stream. The first event carries the whole state.
func (c *Client) Watch(ctx context.Context) (*Watcher, error) {
	resp, err := c.send(ctx, http.MethodGet, apitype.PathWatch, nil)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventBytes)
	return &Watcher{body: resp.Body, sc: sc}, nil
}

// Next returns the next event. It returns io.EOF when the service ends the stream (it is
// stopping).
func (w *Watcher) Next() (apitype.Event, error) {
	if !w.sc.Scan() {
		if err := w.sc.Err(); err != nil {
			return apitype.Event{}, fmt.Errorf("client: watch: %w", err)
		}
		return apitype.Event{}, io.EOF
	}
	var e apitype.Event
	if err := json.Unmarshal(w.sc.Bytes(), &e); err != nil {
		return apitype.Event{}, fmt.Errorf("client: watch: %w", err)
	}
	return e, nil
}

// Close ends the stream.
func (w *Watcher) Close() error { return w.body.Close() }
