package signin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/writeback-agent/wbagent/agent/link"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
)

func startSim(t *testing.T) (link.Settings, fixtures.Staff) {
	t.Helper()
	s, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return link.Settings{Issuer: base, ClientID: idp.DesktopClientID,
		Scopes: []string{"openid", "profile", "offline_access", "papi-cr.write"}}, s.Practice().Staff[0]
}

func TestPasswordGrant(t *testing.T) {
	settings, clinician := startSim(t)
	res, err := Password(t.Context(), http.DefaultClient, settings, clinician.Username, clinician.Password)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(clinician.UserInRoleID); res.User.ID != want || res.Token.RefreshToken == "" {
		t.Errorf("signed in as %+v (refresh token %v), want %s", res.User, res.Token.RefreshToken != "", want)
	}
	if _, err := Password(t.Context(), http.DefaultClient, settings, clinician.Username, "wrong"); err == nil ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("wrong password: %v", err)
	}
}

// browser plays the clinician: it follows the sign-in address, signs in on the simulator's
// page and follows the redirect back to the loopback listener.
func browser(username, password string) func(string) error {
	return func(authURL string) error {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, err := c.Get(authURL)
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
		loginURL := resp.Request.URL.ResolveReference(&url.URL{Path: "/login"})
		resp, err = c.PostForm(loginURL.String(), form)
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

func TestBrowserFlowWithPKCE(t *testing.T) {
	settings, clinician := startSim(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := Browser(ctx, http.DefaultClient, settings, browser(clinician.Username, clinician.Password))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(clinician.UserInRoleID); res.User.ID != want || res.User.Name == "" {
		t.Errorf("signed in as %+v, want %s", res.User, want)
	}
}

func TestBrowserFlowEndsWithTheContext(t *testing.T) {
	settings, _ := startSim(t)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := Browser(ctx, http.DefaultClient, settings, func(string) error { return nil }) // nobody signs in
	if err == nil || !strings.Contains(err.Error(), "waiting for the browser") {
		t.Errorf("Browser = %v, want a timeout", err)
	}
}

func TestCallbackRejectsAForeignState(t *testing.T) {
	codes := make(chan callback, 1)
	h := callbackHandler("expected", codes)
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"state=other&code=abc", http.StatusBadRequest},
		{"state=expected&error=access_denied", http.StatusOK},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, CallbackPath+"?"+tc.query, nil))
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.query, rec.Code, tc.status)
		}
	}
	if cb := <-codes; cb.err == nil {
		t.Error("a refused sign-in gave no error")
	}
}
