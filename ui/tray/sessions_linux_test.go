package tray_test

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

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/localapi/apitype"
	"github.com/writeback-agent/wbagent/agent/safesocket"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/ui/tray"
)

// Several people signed in to one terminal server, each with their own tray. OS users
// cannot be created here, so each tray's connections bind an abstract address naming the
// user they play ("@traytest-alice-3") and the service's Identify reads it back.
var sessionUsers = map[string]safesocket.Identity{
	"alice":     {UserID: "2001", User: "alice"},
	"bob":       {UserID: "2002", User: "bob"},
	"reception": {UserID: "2003", User: "reception"},
}

const sessionAddr = "@traytest-"

var sessionSeq atomic.Int64

func identifySession(c net.Conn) (safesocket.Identity, error) {
	name, ok := strings.CutPrefix(c.RemoteAddr().String(), sessionAddr)
	if !ok {
		// The test itself (enqueueing as the administrator it runs as).
		return safesocket.PeerIdentity(c)
	}
	user, _, _ := strings.Cut(name, "-")
	if id, ok := sessionUsers[user]; ok {
		return id, nil
	}
	return safesocket.Identity{}, fmt.Errorf("test: unknown user %q", user)
}

func httpAs(socket, user string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			local := &net.UnixAddr{Net: "unix", Name: fmt.Sprintf("%s%s-%d", sessionAddr, user, sessionSeq.Add(1))}
			return net.DialUnix("unix", local, &net.UnixAddr{Net: "unix", Name: socket})
		},
	}}
}

// watchStream reads the watch stream as package client does.
type watchStream struct {
	body io.ReadCloser
	dec  *json.Decoder
}

func (w *watchStream) Next() (apitype.Event, error) {
	var e apitype.Event
	err := w.dec.Decode(&e)
	return e, err
}

func (w *watchStream) Close() error { return w.body.Close() }

func dialAs(socket, user string) tray.Dial {
	return func(ctx context.Context) (tray.Stream, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+apitype.Host+apitype.PathWatch, nil)
		if err != nil {
			return nil, err
		}
		resp, err := httpAs(socket, user).Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, errors.New(resp.Status)
		}
		return &watchStream{body: resp.Body, dec: json.NewDecoder(resp.Body)}, nil
	}
}

func TestEachSessionSeesItsOwnCounts(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{Identify: identifySession})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// alice and bob link to the first two simulated GPs; reception does not link.
	for i, user := range []string{"alice", "bob"} {
		res := stack.SignIn(t, stack.Clinicians[i])
		body, _ := json.Marshal(apitype.LinkRequest{ClinicalUserID: res.User.ID, AccessToken: res.Token.AccessToken,
			RefreshToken: res.Token.RefreshToken, Expiry: res.Token.Expiry, IDToken: res.IDToken})
		req, _ := http.NewRequest(http.MethodPost, "http://"+apitype.Host+apitype.PathLink, bytes.NewReader(body))
		resp, err := httpAs(stack.Socket, user).Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("link %s: %v, %v", user, resp, err)
		}
		resp.Body.Close()
	}
	// Two filings for alice's clinician, one for bob's.
	admin := client.New(stack.Socket)
	for i, who := range []int{0, 0, 1} {
		if _, err := admin.Enqueue(ctx, bytes.NewReader(servicetest.Writeback(t, fmt.Sprintf("session-%d", i), stack.Clinicians[who], nil))); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]func(tray.View) bool{
		"alice": func(v tray.View) bool {
			return hasTitle(v, "review", "Review 2 filings waiting for you…") && v.Status == tray.Attention && !has(v, "link")
		},
		"bob": func(v tray.View) bool {
			return hasTitle(v, "review", "Review 1 filing waiting for you…") && v.Status == tray.Attention && !has(v, "link")
		},
		"reception": func(v tray.View) bool {
			return !has(v, "review") && hasTitle(v, "link", "Clinicians: link my EMIS account…") && v.Status == tray.OK
		},
	}
	done := make(chan string, len(want))
	for user, ok := range want {
		go func() {
			seen := false
			tray.Follow(ctx, dialAs(stack.Socket, user), tray.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond},
				nil, func(s *tray.Snapshot) {
					// Every tray sees the three records; only their own count as theirs.
					if !seen && len(s.Records) == 3 && ok(tray.Build(s, tray.Prefs{}, time.Now())) {
						seen = true
						done <- user
					}
				})
		}()
	}
	deadline := time.After(5 * time.Second)
	for range want {
		select {
		case user := <-done:
			t.Logf("%s's tray shows their own counts", user)
		case <-deadline:
			t.Fatal("not every session's tray showed its own counts")
		}
	}
}

func has(v tray.View, id string) bool {
	for _, it := range v.Items {
		if it.ID == id {
			return true
		}
	}
	return false
}

func hasTitle(v tray.View, id, title string) bool {
	for _, it := range v.Items {
		if it.ID == id {
			return it.Title == title
		}
	}
	return false
}
