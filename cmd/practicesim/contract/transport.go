package contract

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/routers"
)

// apiPathPrefix marks the Partner API's own paths: a request under it that
// matches no operation in the document is a violation, whereas other paths
// (the identity provider's, the simulator's admin API) are not part of this
// contract and pass through unchecked.
const apiPathPrefix = "/api/"

// Transport is an http.RoundTripper that validates every Partner API request
// it sends and every response to a request that matches an operation,
// records each violation, and
// otherwise behaves exactly like the transport it wraps: requests are sent
// even when invalid, so that the server's answer to them is checked too.
type Transport struct {
	base      http.RoundTripper
	validator *Validator

	mu         sync.Mutex
	violations []*Violation
}

// Transport wraps base (http.DefaultTransport when nil) in a validating
// transport.
func (v *Validator) Transport(base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{base: base, validator: v}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out, err := withReplayableBody(req)
	if err != nil {
		return nil, err
	}
	checked := t.inContract(out)
	if checked {
		probe := out.Clone(out.Context())
		if out.GetBody != nil {
			probe.Body, _ = out.GetBody()
		}
		t.record(t.validator.ValidateRequest(probe))
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil || !checked {
		return resp, err
	}
	// A request that matches no operation has no documented responses; the
	// request's violation already says what is wrong.
	if _, ok := t.validator.Operation(out); ok {
		t.record(t.validator.ValidateResponse(out, resp))
	}
	return resp, nil
}

// Violations returns the violations recorded so far.
func (t *Transport) Violations() []*Violation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*Violation(nil), t.violations...)
}

// ResponseViolations returns the recorded violations of response bodies and
// statuses: those are the server's fault whatever the request was.
func (t *Transport) ResponseViolations() []*Violation {
	var out []*Violation
	for _, v := range t.Violations() {
		if v.Phase == PhaseResponse {
			out = append(out, v)
		}
	}
	return out
}

// Reset forgets the recorded violations.
func (t *Transport) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.violations = nil
}

func (t *Transport) record(err error) {
	var v *Violation
	if !errors.As(err, &v) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.violations = append(t.violations, v)
}

// inContract reports whether the request is one the document governs.
func (t *Transport) inContract(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, apiPathPrefix) {
		return true
	}
	_, _, err := t.validator.router.FindRoute(r)
	return !errors.Is(err, routers.ErrPathNotFound) && !errors.Is(err, routers.ErrMethodNotAllowed)
}

// withReplayableBody returns a copy of req whose body can be read twice (once
// to validate, once to send). It consumes and closes req's body, as a
// RoundTripper must.
func withReplayableBody(req *http.Request) (*http.Request, error) {
	out := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return out, nil
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	out.Body, _ = out.GetBody()
	return out, nil
}
