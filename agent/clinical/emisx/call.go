package emisx

import (
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
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/clinical"
)

// Bounds on what the adapter reads from an answer. GetMedicalRecord can be large.
const (
	maxAnswerBytes = 64 << 20
	maxErrorBytes  = 64 << 10
)

// call is one Partner API request.
type call struct {
	op     string // the operationId, e.g. "FileRecord"
	method string
	path   string
	query  url.Values
	body   *streamedBody // JSON; nil for a GET
	// mutates is set for FileRecord: a failure without a clear refusal leaves its outcome
	// unknown.
	mutates bool
}

// do sends c as clinician user and decodes a successful answer into out (unless nil). When
// the API refuses the token as expired and Sessions can expire it, do retries once with a
// refreshed one: a refused call changed nothing. The retry is a new request, whose body is
// streamed anew from the start (the attachments opened again).
func (cl *Client) do(ctx context.Context, user string, c call, out any) error {
	err := cl.once(ctx, user, c, out)
	if exp, ok := cl.cfg.Sessions.(TokenExpirer); ok && errors.Is(err, clinical.ErrTokenExpired) {
		if xerr := exp.ExpireToken(ctx, user); xerr != nil {
			return sessionError(c.op, xerr)
		}
		err = cl.once(ctx, user, c, out)
	}
	return err
}

func (cl *Client) once(ctx context.Context, user string, c call, out any) error {
	tok, err := cl.token(ctx, user)
	if err != nil {
		return sessionError(c.op, err)
	}
	target := cl.base + c.path
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, c.method, target, nil)
	if err != nil {
		return &clinical.Error{Op: c.op, Kind: clinical.ErrBadRequest, Err: errors.New("cannot build the request")}
	}
	req.Header.Set("applicationId", cl.cfg.ApplicationID)
	req.Header.Set("Accept", "application/json")
	var up *upload
	if c.body != nil {
		up = c.body.upload()
		// After the answer is read (deferred calls run last in, first out): what the server
		// did not read of the body is not sent, and no attachment stays open.
		defer up.finish()
		// The transport may send the request again (a connection found closed before
		// anything was written, a redirect): GetBody streams the body anew from its start.
		req.GetBody = up.open
		req.Body, _ = up.open()
		req.ContentLength = c.body.length // -1: sent chunked
		req.Header.Set("Content-Type", "application/json")
	}
	tok.SetAuthHeader(req)
	resp, err := cl.cfg.HTTPClient.Do(req)
	if err != nil {
		e := &clinical.Error{Op: c.op, Kind: clinical.ErrTransient, OutcomeUnknown: c.mutates, Err: withoutURL(err)}
		if up == nil {
			return e
		}
		if failure := up.finish(); failure != nil {
			// An attachment could not be read to its end, so the body was cut short and the
			// request aborted: the server never received a complete document. The outcome
			// stays unknown all the same (see clinical.CauseAttachmentUnreadable): that a
			// server files nothing from a truncated body is sound behaviour we expect, not a
			// fact we can check from here, and wrongly ruling a filing out could file it twice
			// where wrongly keeping it open costs one look-up by GUID.
			e.Cause, e.Err = clinical.CauseAttachmentUnreadable, failure
		}
		return e
	}
	defer resp.Body.Close()
	// An answer that came while the body was still being sent (a refusal before reading it)
	// stands, whatever became of the rest of the body: it is what the server decided.
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return cl.refusal(c, resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(out); err != nil {
		return &clinical.Error{Op: c.op, Kind: clinical.ErrTransient, Cause: "unreadable-answer", Status: resp.StatusCode,
			Err: errors.New("the answer is not the JSON expected")}
	}
	return nil
}

func (cl *Client) token(ctx context.Context, user string) (*oauth2.Token, error) {
	ts, err := cl.cfg.Sessions.TokenSource(ctx, user)
	if err != nil {
		return nil, err
	}
	return ts.Token()
}

// refusal turns an error answer into a *clinical.Error.
func (cl *Client) refusal(c call, resp *http.Response) error {
	var er errorResponse
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	json.Unmarshal(data, &er) // an answer that is not an ErrorResponse has no outcome number
	issue := ""
	if er.Issue != nil {
		issue = er.Issue.Code
	}
	m := classify(cl.outcomes, resp.StatusCode, er.LegacyOutcome, issue)
	return &clinical.Error{
		Op: c.op, Kind: m.kind, Cause: m.cause, Status: resp.StatusCode, LegacyOutcome: er.LegacyOutcome,
		OutcomeUnknown: c.mutates && resp.StatusCode >= 500, RetryAfter: retryAfter(resp, time.Now()),
	}
}

// maxRetryAfter bounds the wait a Retry-After header can ask for.
const maxRetryAfter = time.Hour

// retryAfter returns the wait a 429 or 503 answer asks for in its Retry-After header
// (seconds, or an HTTP date), bounded by maxRetryAfter; zero when it asks for none.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// sessionError says what a failure to get a clinician's token means.
func sessionError(op string, err error) error {
	var ce *clinical.Error
	if errors.As(err, &ce) {
		return err
	}
	if k := clinical.KindOf(err); k != "" {
		return &clinical.Error{Op: op, Kind: k}
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &clinical.Error{Op: op, Kind: clinical.ErrRelinkNeeded, Cause: "refresh-refused",
			Err: errors.New("the identity provider refused to refresh the session (" + re.ErrorCode + ")")}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
			if e.Status >= 500 {
				e.Kind, e.Cause, e.Err = clinical.ErrTransient, "identity-provider-unavailable", errors.New("the identity provider failed")
			}
		}
		return e
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &clinical.Error{Op: op, Kind: clinical.ErrTransient, Cause: "identity-provider-unavailable", Err: withoutURL(err)}
	}
	return &clinical.Error{Op: op, Kind: clinical.ErrRelinkNeeded, Err: err}
}

// withoutURL drops the request URL from a transport error: its query carries patient data.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
