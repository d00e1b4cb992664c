package sim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
)

// startupBudget is the time the simulator may take from New to serving.
func startupBudget() time.Duration {
	if raceDetector {
		return 4 * time.Second
	}
	return time.Second
}

func TestStartsInUnderASecond(t *testing.T) {
	begin := time.Now()
	s, err := sim.New(sim.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	elapsed := time.Since(begin)
	if resp.StatusCode != 200 {
		t.Fatalf("discovery: %d", resp.StatusCode)
	}
	if elapsed > startupBudget() {
		t.Errorf("New, Start and a first answer took %v; the budget is %v", elapsed, startupBudget())
	}
	if s.URL() != base || s.AdminURL() != base+"/admin/" {
		t.Errorf("URL %q, AdminURL %q", s.URL(), s.AdminURL())
	}
}

func TestStartOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", ":0", "example.com:80"} {
		s, err := sim.New(sim.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Start(t.Context(), addr); !errors.Is(err, sim.ErrNotLoopback) {
			t.Errorf("Start(%q) = %v, want ErrNotLoopback", addr, err)
			s.Close()
		}
	}
}

func TestStopsWhenTheContextEnds(t *testing.T) {
	s, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	base, err := s.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := http.Get(base + "/login"); err != nil {
			return // stopped
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("still serving after the context ended")
}

// TestSignInThroughTheBrowser walks the authorization code flow with PKCE
// through the sign-in page, as a clinician linking the agent would, and
// uses the token.
func TestSignInThroughTheBrowser(t *testing.T) {
	h := newHarness(t)
	cfg := h.desktopClient()
	verifier := oauth2.GenerateVerifier()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := browser.Get(cfg.AuthCodeURL("xyz", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	login, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize: %d, no redirect", resp.StatusCode)
	}
	page, err := browser.Get(login.String())
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	gp := h.GP()
	for _, s := range h.Fixtures().Staff {
		if !strings.Contains(string(html), s.Username) {
			t.Errorf("sign-in page does not list %s", s.Username)
		}
	}
	resp, err = browser.PostForm(h.URL+"/login", url.Values{
		"authRequestID": {login.Query().Get("authRequestID")}, "username": {gp.Username}, "password": {gp.Password},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback, err := resp.Location()
	if err != nil {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	resp, err = browser.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := resp.Location()
	if err != nil || back.Query().Get("state") != "xyz" {
		t.Fatalf("callback: %d %v", resp.StatusCode, back)
	}
	tok, err := cfg.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := h.fileAs(tok.AccessToken, &guids{}); status != http.StatusNoContent {
		t.Errorf("filing with the linked token: %d", status)
	}
}

func TestFixedIssuerWithYourOwnServer(t *testing.T) {
	s, err := sim.New(sim.Config{Issuer: "http://127.0.0.1:9"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"issuer":"http://127.0.0.1:9"`) {
		t.Errorf("discovery = %s", body)
	}
}
