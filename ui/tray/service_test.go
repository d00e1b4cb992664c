package tray_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/client"
	"github.com/writeback-agent/wbagent/agent/servicetest"
	"github.com/writeback-agent/wbagent/ui/tray"
)

// TestRealServiceReachesTheTray runs the real service in-process and shows its changes
// reaching the tray's model through the real watch stream: linking, a filing waiting for
// this user, the service stopping.
func TestRealServiceReachesTheTray(t *testing.T) {
	stack := servicetest.Start(t, servicetest.Options{})
	c := client.New(stack.Socket)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	views := make(chan tray.View, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tray.Follow(ctx, tray.DialClient(c), tray.Backoff{Min: 10 * time.Millisecond, Max: 100 * time.Millisecond, FirstEvent: 5 * time.Second},
			nil, func(s *tray.Snapshot) { views <- tray.Build(s, tray.Prefs{}, time.Now()) })
	}()
	defer wg.Wait()
	waitFor := func(what string, within time.Duration, ok func(tray.View) bool) tray.View {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case v := <-views:
				if ok(v) {
					return v
				}
			case <-deadline:
				t.Fatalf("no view where %s within %v", what, within)
			}
		}
	}
	find := func(v tray.View, id string) (tray.Item, bool) {
		for _, it := range v.Items {
			if it.ID == id {
				return it, true
			}
		}
		return tray.Item{}, false
	}

	// This test's user is not linked yet: the tray offers to link.
	waitFor("the tray offers to link", 5*time.Second, func(v tray.View) bool {
		it, ok := find(v, "link")
		return ok && it.Title == "Clinicians: link my EMIS account…"
	})

	// "Link my EMIS account…": the PKCE sign-in in this process, a simulated GP at the
	// browser; then a writeback for them arrives.
	who := stack.Clinicians[0]
	st, err := tray.Link(ctx, c, browser(who.Username, who.Password))
	if err != nil {
		t.Fatal(err)
	}
	if st.Link == nil || st.Link.ClinicalUserID != servicetest.ClinicalUserID(who) {
		t.Fatalf("linked %+v, want clinical user %s", st.Link, servicetest.ClinicalUserID(who))
	}
	waitFor("the link is gone from the menu", time.Second, func(v tray.View) bool { _, ok := find(v, "link"); return !ok && v.Status != tray.Offline })

	if _, err := c.Enqueue(ctx, bytes.NewReader(servicetest.Writeback(t, "tray-1", who, nil))); err != nil {
		t.Fatal(err)
	}
	// The checks stand-in moves it on every 10 ms; the tray must show it within a second.
	v := waitFor("the filing waits for this user", time.Second, func(v tray.View) bool {
		it, ok := find(v, "review")
		return ok && it.Title == "Review 1 filing waiting for you…"
	})
	if v.Status != tray.Attention {
		t.Errorf("icon %s with a filing waiting, want attention", v.Status)
	}

	// The service stops: offline, saying so.
	stack.Service.Stop()
	v = waitFor("offline after the service stopped", 5*time.Second, func(v tray.View) bool { return v.Status == tray.Offline })
	if v.Tooltip != tray.TooltipOffline {
		t.Errorf("tooltip %q", v.Tooltip)
	}
	cancel()
}

// browser plays the clinician at the browser: it follows the sign-in address, signs in on
// the simulator's page and follows the redirect back to the tray's loopback listener.
func browser(username, password string) func(string) error {
	return func(authURL string) error {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := hc.Get(authURL)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Request.URL.Query().Get("authRequestID")
		if id == "" {
			return fmt.Errorf("no sign-in page: ended at %s", resp.Request.URL)
		}
		form := url.Values{"authRequestID": {id}, "username": {username}, "password": {password}}
		resp, err = hc.PostForm(resp.Request.URL.ResolveReference(&url.URL{Path: "/login"}).String(), form)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("after signing in: %s: %s", resp.Status, body)
		}
		return nil
	}
}
