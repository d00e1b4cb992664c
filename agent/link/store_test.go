package link

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/logtest"
	"github.com/writeback-agent/wbagent/agent/seal"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/fixtures"
	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/idp"
)

type fixture struct {
	settings Settings
	staff    []fixtures.Staff
	dir      string
	sealer   *seal.Sealer
	requests atomic.Int64 // requests to the issuer
	revokes  atomic.Int64 // of which to its revocation endpoint
	hc       *http.Client
	logs     *logtest.Buffer // what the stores opened by open log
	close    func()          // stops the issuer
}

type countingTransport struct{ f *fixture }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.f.requests.Add(1)
	if r.URL.Path == revokePath {
		c.f.revokes.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// revokePath is the simulator's revocation endpoint.
const revokePath = "/revoke"

func newFixture(t *testing.T) *fixture { return newWrappedFixture(t, nil) }

// newWrappedFixture starts the simulator on loopback; if wrap is not nil, the issuer is
// wrap around the simulator's handler.
func newWrappedFixture(t *testing.T, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	s, err := sim.New(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var base string
	var stop func()
	if wrap == nil {
		if base, err = s.Start(t.Context(), "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		stop = func() { s.Close() }
	} else {
		srv := httptest.NewServer(wrap(s.Handler()))
		base, stop = srv.URL, srv.Close
	}
	t.Cleanup(stop)
	key := bytes.Repeat([]byte{7}, seal.KeySize)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		settings: Settings{Issuer: base, ClientID: idp.DesktopClientID, Scopes: []string{"openid", "profile", "offline_access"}},
		staff:    s.Practice().Staff, dir: t.TempDir(), sealer: sealer, logs: &logtest.Buffer{}, close: stop,
	}
	f.hc = &http.Client{Transport: countingTransport{f}}
	return f
}

func (f *fixture) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Options{Dir: f.dir, Sealer: f.sealer, Settings: f.settings, HTTPClient: f.hc,
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustLink links OS user uid (user) to clinical user id with tok, failing the test if it cannot.
func mustLink(t *testing.T, s *Store, uid, user, id string, tok *oauth2.Token) {
	t.Helper()
	if _, err := s.Link(t.Context(), uid, user, id, tok); err != nil {
		t.Fatal(err)
	}
}

// signIn returns a token for staff member i by the password grant.
func (f *fixture) signIn(t *testing.T, i int) (*oauth2.Token, string) {
	t.Helper()
	ep, err := Discover(t.Context(), f.hc, f.settings.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	tok, err := ep.OAuth2(f.settings).PasswordCredentialsToken(ctx, f.staff[i].Username, f.staff[i].Password)
	if err != nil {
		t.Fatal(err)
	}
	return tok, fmt.Sprint(f.staff[i].UserInRoleID)
}

func TestLinkVerifiesAndPersistsSealed(t *testing.T) {
	f := newFixture(t)
	changes := 0
	s, err := Open(Options{Dir: f.dir, Sealer: f.sealer, Settings: f.settings, HTTPClient: f.hc, OnChange: func() { changes++ }})
	if err != nil {
		t.Fatal(err)
	}
	tok, id := f.signIn(t, 0)
	l, err := s.Link(t.Context(), "1000", "alice", id, tok)
	if err != nil {
		t.Fatal(err)
	}
	if l.ClinicalUserID != id || l.ClinicalName == "" || changes != 1 {
		t.Errorf("link %+v, %d changes", l, changes)
	}

	data, err := os.ReadFile(filepath.Join(f.dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken} {
		if bytes.Contains(data, []byte(secret)) {
			t.Error("a token is stored in clear")
		}
	}

	again := f.open(t)
	got, ok := again.ForOSUser("1000")
	if !ok || got.ClinicalUserID != id || got.OSUser != "alice" {
		t.Errorf("after reopening: %+v, %v", got, ok)
	}
	if tk, err := again.TokenSource(id).Token(); err != nil || tk.AccessToken != tok.AccessToken {
		t.Errorf("token after reopening: %v", err)
	}
}

func TestLinkRefusesTokensThatDoNotProveTheUser(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	_, other := f.signIn(t, 1)
	for _, tc := range []struct {
		name     string
		tok      *oauth2.Token
		clinical string
		want     error
	}{
		{"someone else's token", tok, other, ErrVerify},
		{"a forged access token", &oauth2.Token{AccessToken: "forged", RefreshToken: "r"}, id, ErrVerify},
		{"no refresh token", &oauth2.Token{AccessToken: tok.AccessToken}, id, ErrNoRefreshToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Link(t.Context(), "1000", "alice", tc.clinical, tc.tok); !errors.Is(err, tc.want) {
				t.Errorf("Link = %v, want %v", err, tc.want)
			}
		})
	}
	if len(s.Links()) != 0 {
		t.Errorf("links made: %+v", s.Links())
	}
}

func TestTokenSourceRefreshesAndPersists(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	tok.Expiry = time.Now().Add(-time.Minute) // make the service refresh at once
	mustLink(t, s, "1000", "alice", id, tok)
	fresh, err := s.TokenSource(id).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || !fresh.Valid() {
		t.Fatal("the token was not refreshed")
	}
	again, err := f.open(t).TokenSource(id).Token()
	if err != nil || again.AccessToken != fresh.AccessToken {
		t.Errorf("the refreshed token was not persisted: %v", err)
	}
}

func TestARefusedRefreshNeedsARelinkAndIsNotRetried(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	tok.Expiry = time.Now().Add(-time.Minute)
	tok.RefreshToken = "revoked"
	mustLink(t, s, "1000", "alice", id, tok)
	_, err := s.TokenSource(id).Token()
	var re *RelinkError
	if !errors.As(err, &re) || re.ClinicalUserID != id || !errors.Is(err, ErrRelinkNeeded) {
		t.Fatalf("Token = %v, want a RelinkError", err)
	}
	before := f.requests.Load()
	for range 3 {
		if _, err := s.TokenSource(id).Token(); !errors.Is(err, ErrRelinkNeeded) {
			t.Fatalf("Token = %v, want ErrRelinkNeeded", err)
		}
	}
	if f.requests.Load() != before {
		t.Error("the issuer was asked again after refusing")
	}
	if a := f.open(t).Accounts(); len(a) != 1 || !a[0].RelinkNeeded {
		t.Errorf("after reopening: %+v, want relink needed", a)
	}

	// Linking again clears it.
	tok, _ = f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, tok)
	if _, err := s.TokenSource(id).Token(); err != nil {
		t.Errorf("after linking again: %v", err)
	}
}

func TestUnlinkKeepsASharedAccountAndDropsTheLast(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	for _, u := range []string{"1000", "1001"} {
		mustLink(t, s, u, "user"+u, id, tok)
	}
	if _, err := s.Unlink("1000"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenSource(id).Token(); err != nil {
		t.Errorf("the other OS user's link lost its token: %v", err)
	}
	if _, err := s.Unlink("1001"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenSource(id).Token(); !errors.Is(err, ErrNotLinked) {
		t.Errorf("Token after the last unlink = %v, want ErrNotLinked", err)
	}
	if _, err := s.Unlink("1001"); !errors.Is(err, ErrNotLinked) {
		t.Errorf("second Unlink = %v, want ErrNotLinked", err)
	}
	if len(f.open(t).Accounts()) != 0 {
		t.Error("the account survived on disk")
	}
}

func TestATokenSealedWithAnotherKeyNeedsARelink(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, tok)
	other, _ := seal.New(bytes.Repeat([]byte{8}, seal.KeySize))
	s2, err := Open(Options{Dir: f.dir, Sealer: other, Settings: f.settings, HTTPClient: f.hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.TokenSource(id).Token(); !errors.Is(err, ErrRelinkNeeded) {
		t.Errorf("Token = %v, want ErrRelinkNeeded", err)
	}
}

func TestDiscoverChecksTheIssuer(t *testing.T) {
	f := newFixture(t)
	if _, err := Discover(t.Context(), f.hc, f.settings.Issuer+"/"); err == nil {
		t.Error("Discover accepted a document naming another issuer")
	}
}
