//go:build linux

package localapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/queue"
	"github.com/writeback-agent/wbagent/agent/safesocket"
	"github.com/writeback-agent/wbagent/agent/service"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/agent/writeback"
)

// The identity seam: each test client binds its end of the socket to an abstract address
// naming the user it plays ("@wbtest-alice-7"), and the service's Identify reads it back.
// This stands in for OS users that cannot be created here.
var users = map[string]safesocket.Identity{
	"alice": {UserID: "1001", User: "alice"},
	"bob":   {UserID: "1002", User: "bob"},
	"carol": {UserID: "1003", User: "carol"}, // never links
	"it":    {UserID: "1004", User: `PRACTICE\it`, Admin: true},
}

const addrPrefix = "@wbtest-"

func identify(c net.Conn) (safesocket.Identity, error) {
	name, ok := strings.CutPrefix(c.RemoteAddr().String(), addrPrefix)
	if !ok {
		return safesocket.Identity{}, errors.New("test: unnamed caller")
	}
	user, _, _ := strings.Cut(name, "-")
	id, ok := users[user]
	if !ok {
		return safesocket.Identity{}, fmt.Errorf("test: unknown user %q", user)
	}
	return id, nil
}

var connSeq atomic.Int64

// as returns an HTTP client whose connections the service identifies as user.
func as(stack *servicetest.Stack, user string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			local := &net.UnixAddr{Net: "unix", Name: fmt.Sprintf("%s%s-%d", addrPrefix, user, connSeq.Add(1))}
			return net.DialUnix("unix", local, &net.UnixAddr{Net: "unix", Name: stack.Socket})
		},
	}}
}

type world struct {
	t     *testing.T
	stack *servicetest.Stack
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, stack: servicetest.Start(t, servicetest.Options{Identify: identify})}
	// alice and bob link to the first two simulated GPs.
	for i, user := range []string{"alice", "bob"} {
		res := w.stack.SignIn(t, w.stack.Clinicians[i])
		var st apitype.LinkState
		w.call(user, http.MethodPost, apitype.PathLink, apitype.LinkRequest{ClinicalUserID: res.User.ID,
			AccessToken: res.Token.AccessToken, RefreshToken: res.Token.RefreshToken, Expiry: res.Token.Expiry, IDToken: res.IDToken}, http.StatusOK, &st)
	}
	return w
}

// request sends a request as user and returns the status and body.
func (w *world) request(user, method, path string, body any, header http.Header) (int, []byte) {
	w.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+apitype.Host+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := as(w.stack, user).Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// call sends a request as user, checks the status and decodes the answer into out.
func (w *world) call(user, method, path string, body any, wantStatus int, out any) {
	w.t.Helper()
	status, data := w.request(user, method, path, body, nil)
	if status != wantStatus {
		w.t.Fatalf("%s %s %s: %d %s, want %d", user, method, path, status, data, wantStatus)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			w.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// enqueue queues a writeback by clinician i (as the administrator) and waits for it to be
// waiting for confirmation.
func (w *world) enqueue(jobID string, i int) uint64 {
	w.t.Helper()
	var res apitype.EnqueueResult
	w.call("it", http.MethodPost, apitype.PathQueue, servicetest.Writeback(w.t, jobID, w.stack.Clinicians[i], nil), http.StatusCreated, &res)
	w.waitFor(res.ID, queue.NeedsConfirmation)
	return res.ID
}

func (w *world) waitFor(id uint64, state queue.State) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var d apitype.RecordDetail
		w.call("carol", http.MethodGet, path(apitype.PathRecord, id), nil, http.StatusOK, &d)
		if d.State == state {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("record %d stayed %s, want %s", id, d.State, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func path(route string, id uint64) string {
	return strings.Replace(route, "{id}", fmt.Sprint(id), 1)
}

func TestWebPagesAndUnknownCallersAreRefused(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name   string
		user   string
		header http.Header
	}{
		{"Origin", "it", http.Header{"Origin": {"https://evil.example"}}},
		{"Origin null", "it", http.Header{"Origin": {"null"}}},
		{"Referer", "it", http.Header{"Referer": {"https://evil.example/page"}}},
		{"Host of a web site", "it", http.Header{"Host": {"evil.example"}}},
		{"Host of loopback", "it", http.Header{"Host": {"127.0.0.1:8080"}}},
		{"unidentified caller", "mallory", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			req, _ := http.NewRequest(http.MethodGet, "http://"+apitype.Host+apitype.PathStatus, nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			if h := tc.header.Get("Host"); h != "" {
				req.Host = h
			}
			resp, err := as(w.stack, tc.user).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e apitype.Error
			if resp.StatusCode != http.StatusForbidden || json.Unmarshal(body, &e) != nil || e.Code != apitype.CodeForbidden {
				t.Errorf("status %d %s, want 403 forbidden", resp.StatusCode, body)
			}
		})
	}
}

func TestAuthorisationPerAction(t *testing.T) {
	w := newWorld(t)
	confirmBody := map[string]any{"pfsVisible": true}
	reason := map[string]string{"reason": "test"}
	doc := servicetest.Writeback(t, "authz-enqueue", w.stack.Clinicians[0], nil)

	alices := w.enqueue("authz-alice", 0)
	for _, tc := range []struct {
		name   string
		user   string
		method string
		path   string
		body   any
		want   int
	}{
		{"anyone reads the status", "carol", http.MethodGet, apitype.PathStatus, nil, http.StatusOK},
		{"anyone lists the queue", "carol", http.MethodGet, apitype.PathQueue, nil, http.StatusOK},
		{"anyone reads a record's summary", "bob", http.MethodGet, path(apitype.PathRecord, alices), nil, http.StatusOK},
		{"anyone reads the metrics", "carol", http.MethodGet, apitype.PathMetrics, nil, http.StatusOK},
		{"another clinician may not confirm", "bob", http.MethodPost, path(apitype.PathConfirm, alices), confirmBody, http.StatusForbidden},
		{"an unlinked user may not confirm", "carol", http.MethodPost, path(apitype.PathConfirm, alices), confirmBody, http.StatusForbidden},
		{"an administrator may not confirm", "it", http.MethodPost, path(apitype.PathConfirm, alices), confirmBody, http.StatusForbidden},
		{"another clinician may not reject", "bob", http.MethodPost, path(apitype.PathReject, alices), reason, http.StatusForbidden},
		{"another clinician may not retry", "bob", http.MethodPost, path(apitype.PathRetry, alices), nil, http.StatusForbidden},
		{"the clinician may not cancel", "alice", http.MethodPost, path(apitype.PathCancel, alices), reason, http.StatusForbidden},
		{"a clinician may not enqueue", "alice", http.MethodPost, apitype.PathQueue, doc, http.StatusForbidden},
		{"a clinician may not make diagnostics", "alice", http.MethodGet, apitype.PathDiag, nil, http.StatusForbidden},
		{"a user may not unlink another", "alice", http.MethodDelete, apitype.PathLink + "?user=1002", nil, http.StatusForbidden},
		{"confirming needs the visibility choice", "alice", http.MethodPost, path(apitype.PathConfirm, alices), map[string]any{}, http.StatusBadRequest},
		{"the clinician confirms", "alice", http.MethodPost, path(apitype.PathConfirm, alices), confirmBody, http.StatusOK},
		{"confirming twice is a conflict", "alice", http.MethodPost, path(apitype.PathConfirm, alices), confirmBody, http.StatusConflict},
		{"an administrator retries", "it", http.MethodPost, path(apitype.PathRetry, alices), nil, http.StatusOK},
		{"an administrator cancels", "it", http.MethodPost, path(apitype.PathCancel, alices), reason, http.StatusOK},
		{"an administrator makes diagnostics", "it", http.MethodGet, apitype.PathDiag, nil, http.StatusOK},
		{"an administrator unlinks another user", "it", http.MethodDelete, apitype.PathLink + "?user=1002", nil, http.StatusOK},
		{"an unknown record", "alice", http.MethodGet, path(apitype.PathRecord, 999), nil, http.StatusNotFound},
		{"not a record id", "alice", http.MethodGet, "/localapi/v0/queue/x", nil, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			if status, body := w.request(tc.user, tc.method, tc.path, tc.body, nil); status != tc.want {
				t.Errorf("%d %s, want %d", status, body, tc.want)
			}
		})
	}
}

func TestPatientDetailsOnlyForTheRecordsClinician(t *testing.T) {
	w := newWorld(t)
	id := w.enqueue("phi-alice", 0)
	var rec apitype.Record
	w.call("alice", http.MethodPost, path(apitype.PathReject, id), apitype.ReasonRequest{Reason: "Wrong patient: O'Neill"}, http.StatusOK, &rec)
	if rec.State != queue.Rejected {
		t.Fatalf("state %s", rec.State)
	}

	var mine apitype.RecordDetail
	w.call("alice", http.MethodGet, path(apitype.PathRecord, id), nil, http.StatusOK, &mine)
	if !mine.Mine || mine.Content == nil || mine.Content.Patient.NHSNumber != "9434765919" ||
		mine.Reason == nil || mine.Reason.Text == "" || len(mine.Audit) == 0 {
		t.Errorf("alice's own record: %+v", mine)
	}

	for _, user := range []string{"bob", "carol", "it"} {
		status, body := w.request(user, http.MethodGet, path(apitype.PathRecord, id), nil, nil)
		if status != http.StatusOK {
			t.Fatalf("%s: %d", user, status)
		}
		status, list := w.request(user, http.MethodGet, apitype.PathQueue, nil, nil)
		if status != http.StatusOK {
			t.Fatalf("%s: %d", user, status)
		}
		for _, canary := range []string{"9434765919", "O'Neill", "O\\u0027Neill", "Siobh", "headaches", "photo.png"} {
			if bytes.Contains(body, []byte(canary)) || bytes.Contains(list, []byte(canary)) {
				t.Errorf("%s sees %q", user, canary)
			}
		}
		var d apitype.RecordDetail
		json.Unmarshal(body, &d)
		if d.Mine || d.Content != nil || d.Reason == nil || d.Reason.Code != "rejected" {
			t.Errorf("%s's view: %+v", user, d)
		}
	}
}

func TestEnqueueRefusesInvalidDocumentsNamingTheField(t *testing.T) {
	w := newWorld(t)
	doc := servicetest.Writeback(t, "invalid", w.stack.Clinicians[0], func(d *writeback.Writeback) {
		d.Patient.DateOfBirth = "2999-01-01"
	})
	status, body := w.request("it", http.MethodPost, apitype.PathQueue, doc, nil)
	var e apitype.Error
	json.Unmarshal(body, &e)
	if status != http.StatusBadRequest || e.Code != apitype.CodeInvalidDocument || len(e.Problems) == 0 ||
		!strings.Contains(strings.Join(e.Problems, " "), "patient.dateOfBirth") || bytes.Contains(body, []byte("2999")) {
		t.Errorf("%d %s", status, body)
	}
	// The same job twice is one record.
	first, second := apitype.EnqueueResult{}, apitype.EnqueueResult{}
	good := servicetest.Writeback(t, "twice", w.stack.Clinicians[0], nil)
	w.call("it", http.MethodPost, apitype.PathQueue, good, http.StatusCreated, &first)
	w.call("it", http.MethodPost, apitype.PathQueue, good, http.StatusOK, &second)
	if first.ID != second.ID || second.Created || second.Conflict {
		t.Errorf("first %+v, second %+v", first, second)
	}
}

func TestLinkIsVerifiedWithTheIssuer(t *testing.T) {
	w := newWorld(t)
	bobs := w.stack.SignIn(t, w.stack.Clinicians[1])
	for _, tc := range []struct {
		name string
		req  apitype.LinkRequest
	}{
		{"someone else's token", apitype.LinkRequest{ClinicalUserID: servicetest.ClinicalUserID(w.stack.Clinicians[0]),
			AccessToken: bobs.Token.AccessToken, RefreshToken: bobs.Token.RefreshToken}},
		{"a forged token", apitype.LinkRequest{ClinicalUserID: bobs.User.ID, AccessToken: "forged", RefreshToken: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			status, body := w.request("carol", http.MethodPost, apitype.PathLink, tc.req, nil)
			if status != http.StatusBadRequest || !strings.Contains(string(body), apitype.CodeVerifyFailed) {
				t.Errorf("%d %s", status, body)
			}
			if bytes.Contains(body, []byte(tc.req.AccessToken)) {
				t.Error("the answer quotes the token")
			}
		})
	}
	var st apitype.LinkState
	w.call("carol", http.MethodGet, apitype.PathLink, nil, http.StatusOK, &st)
	if st.Link != nil || st.Settings.Issuer != w.stack.SimURL {
		t.Errorf("carol's link state %+v", st)
	}
}

func TestWatchStreamsTheStateThenChanges(t *testing.T) {
	w := newWorld(t)
	existing := w.enqueue("watch-before", 1) // bob's

	req, _ := http.NewRequest(http.MethodGet, "http://"+apitype.Host+apitype.PathWatch, nil)
	resp, err := as(w.stack, "alice").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != apitype.ContentNDJSON {
		t.Errorf("content type %q", ct)
	}
	events := make(chan apitype.Event, 100)
	go func() {
		dec := json.NewDecoder(resp.Body)
		for {
			var e apitype.Event
			if err := dec.Decode(&e); err != nil {
				close(events)
				return
			}
			events <- e
		}
	}()
	next := func() apitype.Event {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return apitype.Event{}
	}

	first := next()
	if first.Type != apitype.EventState || first.Status == nil || first.Status.Caller.OSUser != "alice" ||
		len(first.Records) != 1 || first.Records[0].ID != existing || first.Records[0].Mine {
		t.Fatalf("first event %+v", first)
	}

	id := w.enqueue("watch-after", 0) // alice's
	sawMine, sawStatus := false, false
	for !sawMine || !sawStatus {
		e := next()
		switch e.Type {
		case apitype.EventRecord:
			if e.Record.ID == id && e.Record.State == queue.NeedsConfirmation {
				sawMine = e.Record.Mine
			}
		case apitype.EventStatus:
			sawStatus = sawStatus || e.Status.Counts[queue.NeedsConfirmation] == 2
		}
	}

	w.stack.Service.Stop()
	for range events { // the service ends the stream when it stops
	}
}

func attachmentPath(id uint64, index string) string {
	return strings.Replace(path(apitype.PathAttachment, id), "{index}", index, 1)
}

func TestAttachmentContentOnlyForTheRecordsClinician(t *testing.T) {
	w := newWorld(t)
	id := w.enqueue("att-alice", 0)

	status, body := w.request("alice", http.MethodGet, attachmentPath(id, "0"), nil, nil)
	if status != http.StatusOK || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Fatalf("alice's attachment 0: %d, %d bytes", status, len(body))
	}
	for _, tc := range []struct {
		name, user, index string
		want              int
	}{
		{"another clinician", "bob", "0", http.StatusForbidden},
		{"an unlinked user", "carol", "0", http.StatusForbidden},
		{"an administrator", "it", "0", http.StatusForbidden},
		{"no such attachment", "alice", "7", http.StatusNotFound},
		{"not an index", "alice", "x", http.StatusBadRequest},
		{"a negative index", "alice", "-1", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.t = t
			status, body := w.request(tc.user, http.MethodGet, attachmentPath(id, tc.index), nil, nil)
			if status != tc.want {
				t.Errorf("%d %s, want %d", status, body, tc.want)
			}
			if bytes.Contains(body, []byte("PNG")) {
				t.Errorf("the refusal carries the content")
			}
		})
	}
}

// The record's clinician sees the clinical system's patient beside the request's; nobody
// else sees either.
func TestMatchedPatientForTheRecordsClinician(t *testing.T) {
	found := []clinical.Patient{{ID: "501", NHSNumber: "9434765919", FamilyName: "O'Neill", GivenNames: "Siobhan",
		DateOfBirth: "1980-02-29", Registered: true}}
	lookups := make(chan string, 10)
	w := &world{t: t, stack: servicetest.Start(t, servicetest.Options{Identify: identify,
		Components: []service.Component{servicetest.FakeChecks{}, fakeLookup{func(ctx context.Context, author, nhs string) ([]clinical.Patient, error) {
			lookups <- author
			return found, nil
		}}}})}
	res := w.stack.SignIn(t, w.stack.Clinicians[0])
	w.call("alice", http.MethodPost, apitype.PathLink, apitype.LinkRequest{ClinicalUserID: res.User.ID,
		AccessToken: res.Token.AccessToken, RefreshToken: res.Token.RefreshToken, Expiry: res.Token.Expiry, IDToken: res.IDToken}, http.StatusOK, nil)
	id := w.enqueue("match-alice", 0)

	var plain apitype.RecordDetail
	w.call("alice", http.MethodGet, path(apitype.PathRecord, id), nil, http.StatusOK, &plain)
	if plain.Content == nil || plain.Match != nil {
		t.Errorf("without ?match=true: content %v, match %+v; want content and no look-up", plain.Content != nil, plain.Match)
	}
	withMatch := path(apitype.PathRecord, id) + "?match=true"
	var d apitype.RecordDetail
	w.call("alice", http.MethodGet, withMatch, nil, http.StatusOK, &d)
	m := d.Match
	if m == nil || m.Error != "" || m.Matches != 1 || m.Patient == nil || m.Patient.FamilyName != "O'Neill" ||
		m.Patient.DateOfBirth != "1980-02-29" || !m.NHSNumberValid || !m.IdentityVerified {
		t.Fatalf("match %+v", m)
	}
	if author := <-lookups; author != servicetest.ClinicalUserID(w.stack.Clinicians[0]) {
		t.Errorf("looked up as %q, want the record's author", author)
	}
	for _, user := range []string{"carol", "it"} {
		var other apitype.RecordDetail
		w.call(user, http.MethodGet, withMatch, nil, http.StatusOK, &other)
		if other.Match != nil || other.Content != nil {
			t.Errorf("%s sees %+v", user, other)
		}
	}

	// Several records with the NHS number: no patient is offered.
	found = append(found, clinical.Patient{ID: "502", NHSNumber: "943 476 5919", FamilyName: "Smith", Registered: true})
	var d2 apitype.RecordDetail
	w.call("alice", http.MethodGet, withMatch, nil, http.StatusOK, &d2)
	if d2.Match == nil || d2.Match.Matches != 2 || d2.Match.Patient != nil {
		t.Errorf("two matches: %+v", d2.Match)
	}
}

// Without a clinical system the match says so, in words, with no patient.
func TestMatchWithoutAClinicalSystem(t *testing.T) {
	w := newWorld(t)
	id := w.enqueue("nomatch-alice", 0)
	var d apitype.RecordDetail
	w.call("alice", http.MethodGet, path(apitype.PathRecord, id)+"?match=true", nil, http.StatusOK, &d)
	if d.Match == nil || d.Match.Error == "" || d.Match.Patient != nil {
		t.Errorf("match %+v, want an error", d.Match)
	}
}

// fakeLookup is a component offering a patient look-up, as the filing component does.
type fakeLookup struct {
	find service.FindPatientsFunc
}

func (fakeLookup) Name() string { return "lookup (test)" }

func (f fakeLookup) Run(ctx context.Context, env service.Env) error {
	env.Patients.Set(f.find)
	<-ctx.Done()
	return nil
}
