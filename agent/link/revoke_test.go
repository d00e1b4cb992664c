package link

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// refreshAtIssuer tries a refresh grant with refreshToken at the issuer's token endpoint,
// bypassing the store.
func (f *fixture) refreshAtIssuer(t *testing.T, refreshToken string) error {
	t.Helper()
	ep, err := Discover(t.Context(), f.hc, f.settings.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ep.OAuth2(f.settings).TokenSource(t.Context(), &oauth2.Token{RefreshToken: refreshToken}).Token()
	return err
}

// wantRefused fails unless the issuer refuses a refresh grant with refreshToken.
func (f *fixture) wantRefused(t *testing.T, refreshToken string) {
	t.Helper()
	err := f.refreshAtIssuer(t, refreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("refresh with the old refresh token: %v, want invalid_grant", err)
	}
}

// wantNoSecrets fails if the logs hold any of the token's secrets.
func (f *fixture) wantNoSecrets(t *testing.T, toks ...*oauth2.Token) {
	t.Helper()
	logs := f.logs.String()
	for _, tok := range toks {
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken} {
			if secret != "" && strings.Contains(logs, secret) {
				t.Errorf("a token is in the logs:\n%s", logs)
			}
		}
	}
}

func TestUnlinkingTheLastLinkRevokesTheRefreshToken(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, tok)
	if _, err := s.Unlink("1000"); err != nil {
		t.Fatal(err)
	}
	if n := f.revokes.Load(); n != 1 {
		t.Errorf("%d revocation requests, want 1", n)
	}
	f.wantRefused(t, tok.RefreshToken)
	logs := f.logs.String()
	if !strings.Contains(logs, "revoked at the clinical system") || !strings.Contains(logs, "clinicalUserId="+id) ||
		strings.Contains(logs, "level=WARN") {
		t.Errorf("logs:\n%s", logs)
	}
	f.wantNoSecrets(t, tok)

	// Linking again works as before, refreshes included.
	tok, _ = f.signIn(t, 0)
	tok.Expiry = time.Now().Add(-time.Minute)
	if _, err := s.Link(t.Context(), "1000", "alice", id, tok); err != nil {
		t.Fatalf("linking again: %v", err)
	}
	fresh, err := s.TokenSource(id).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Errorf("refresh after linking again: %v", err)
	}
}

func TestUnlinkingOneOfTwoLinksRevokesNothing(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	tok.Expiry = time.Now().Add(-time.Minute) // the store's next Token call refreshes
	for _, u := range []string{"1000", "1001"} {
		mustLink(t, s, u, "user"+u, id, tok)
	}
	if _, err := s.Unlink("1000"); err != nil {
		t.Fatal(err)
	}
	if n := f.revokes.Load(); n != 0 {
		t.Errorf("%d revocation requests after unlinking one of two", n)
	}
	fresh, err := s.TokenSource(id).Token() // a refresh grant with the refresh token
	if err != nil {
		t.Fatalf("the remaining link's refresh token does not refresh: %v", err)
	}

	// The last unlink revokes the refresh token the store holds now: the rotated one.
	if _, err := s.Unlink("1001"); err != nil {
		t.Fatal(err)
	}
	if n := f.revokes.Load(); n != 1 {
		t.Errorf("%d revocation requests after the last unlink, want 1", n)
	}
	f.wantRefused(t, fresh.RefreshToken)
	f.wantNoSecrets(t, tok, fresh)
}

func TestLinkingAsSomeoneElseRevokesTheLastLinksToken(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	first, firstID := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", firstID, first)
	second, secondID := f.signIn(t, 1)
	mustLink(t, s, "1000", "alice", secondID, second)
	if n := f.revokes.Load(); n != 1 {
		t.Errorf("%d revocation requests, want 1", n)
	}
	f.wantRefused(t, first.RefreshToken)
	if _, err := s.TokenSource(secondID).Token(); err != nil {
		t.Errorf("the new link's token: %v", err)
	}
	f.wantNoSecrets(t, first, second)
}

// Signing in again as the same clinical user replaces their token for every OS user linked
// to them, and the replaced refresh token is revoked at the issuer.
func TestLinkingAgainRevokesTheReplacedToken(t *testing.T) {
	f := newFixture(t)
	s := f.open(t)
	first, id := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, first)
	second, _ := f.signIn(t, 0) // alice signs in again
	mustLink(t, s, "1000", "alice", id, second)
	if n := f.revokes.Load(); n != 1 {
		t.Errorf("%d revocation requests after signing in again, want 1", n)
	}
	f.wantRefused(t, first.RefreshToken)

	third, _ := f.signIn(t, 0) // bob, another OS user, links to the same clinical user
	third.Expiry = time.Now().Add(-time.Minute)
	mustLink(t, s, "1001", "bob", id, third)
	if n := f.revokes.Load(); n != 2 {
		t.Errorf("%d revocation requests after a second OS user signed in, want 2", n)
	}
	f.wantRefused(t, second.RefreshToken)
	// Both OS users now use the newest sign-in, which still refreshes.
	if _, err := s.TokenSource(id).Token(); err != nil {
		t.Errorf("the newest token: %v", err)
	}
	if len(s.Links()) != 2 || len(s.Accounts()) != 1 {
		t.Errorf("links %v, accounts %v", s.Links(), s.Accounts())
	}
	f.wantNoSecrets(t, first, second, third)
}

// A refresh under way when the clinician unlinks may return a new refresh token after the
// unlink revoked the old one: the store revokes the new one too and hands out nothing.
func TestARefreshRacingAnUnlinkLeavesNoValidToken(t *testing.T) {
	var (
		armed   atomic.Bool
		entered = make(chan string, 1) // the refresh token the issuer returned
		gate    = make(chan struct{})
	)
	f := newWrappedFixture(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !armed.Load() || !bytes.Contains(body, []byte("grant_type=refresh_token")) {
				next.ServeHTTP(w, r)
				return
			}
			// The issuer refreshes at once; its answer reaches the store after the unlink.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var answer struct {
				RefreshToken string `json:"refresh_token"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &answer)
			entered <- answer.RefreshToken
			<-gate
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	})
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	tok.Expiry = time.Now().Add(-time.Minute) // the next Token call refreshes
	mustLink(t, s, "1000", "alice", id, tok)
	armed.Store(true)
	got := make(chan error, 1)
	go func() {
		_, err := s.TokenSource(id).Token()
		got <- err
	}()
	rotated := <-entered
	armed.Store(false)
	if _, err := s.Unlink("1000"); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := <-got; !errors.Is(err, ErrNotLinked) {
		t.Fatalf("token after the unlink: %v, want ErrNotLinked", err)
	}
	if n := f.revokes.Load(); n != 2 {
		t.Errorf("%d revocation requests, want 2 (the stored token, then the one the refresh returned)", n)
	}
	if rotated == "" {
		t.Fatal("the issuer returned no refresh token")
	}
	f.wantRefused(t, tok.RefreshToken)
	f.wantRefused(t, rotated)
	f.wantNoSecrets(t, tok, &oauth2.Token{RefreshToken: rotated})
}

func TestUnlinkWithTheIssuerUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reopen bool // a store that has not yet found the issuer's endpoints
	}{{"endpoints known", false}, {"endpoints unknown", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s := f.open(t)
			tok, id := f.signIn(t, 0)
			mustLink(t, s, "1000", "alice", id, tok)
			f.close()
			if tc.reopen {
				s = f.open(t)
			}
			start := time.Now()
			if _, err := s.Unlink("1000"); err != nil {
				t.Fatalf("Unlink = %v, want success without the issuer", err)
			}
			if d := time.Since(start); d >= RevokeTimeout {
				t.Errorf("Unlink took %v", d)
			}
			if _, ok := s.ForOSUser("1000"); ok || len(s.Accounts()) != 0 {
				t.Error("the link or the account survived")
			}
			again := f.open(t)
			if len(again.Links()) != 0 || len(again.Accounts()) != 0 {
				t.Error("the link or the account survived on disk")
			}
			logs := f.logs.String()
			if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "not revoked") ||
				!strings.Contains(logs, "clinicalUserId="+id) {
				t.Errorf("no warning naming the clinical user:\n%s", logs)
			}
			f.wantNoSecrets(t, tok)
		})
	}
}

func TestUnlinkWhenTheIssuerRefusesToRevoke(t *testing.T) {
	// The issuer answers an error whose description quotes the token.
	f := newWrappedFixture(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != revokePath {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{
				"error": "invalid_request", "error_description": "cannot revoke " + r.PostFormValue("token"),
			})
		})
	})
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, tok)
	if _, err := s.Unlink("1000"); err != nil {
		t.Fatalf("Unlink = %v, want success", err)
	}
	if len(f.open(t).Accounts()) != 0 {
		t.Error("the account survived on disk")
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "invalid_request") ||
		!strings.Contains(logs, "clinicalUserId="+id) {
		t.Errorf("no warning with the reason:\n%s", logs)
	}
	f.wantNoSecrets(t, tok)
}

func TestUnlinkWithoutARevocationEndpoint(t *testing.T) {
	f := newWrappedFixture(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != discoveryPath {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			delete(doc, "revocation_endpoint")
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(doc)
		})
	})
	s := f.open(t)
	var toks []*oauth2.Token
	for i, u := range []string{"1000", "1001"} {
		tok, id := f.signIn(t, i)
		mustLink(t, s, u, "user"+u, id, tok)
		toks = append(toks, tok)
	}
	for _, u := range []string{"1000", "1001"} {
		if _, err := s.Unlink(u); err != nil {
			t.Fatalf("Unlink(%s) = %v, want success", u, err)
		}
	}
	if len(s.Links()) != 0 || len(s.Accounts()) != 0 || len(f.open(t).Accounts()) != 0 {
		t.Error("a link or an account survived")
	}
	if n := f.revokes.Load(); n != 0 {
		t.Errorf("%d revocation requests to an issuer without the endpoint", n)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "no token revocation endpoint"); n != 1 || !strings.Contains(logs, "level=INFO") ||
		strings.Contains(logs, "level=WARN") {
		t.Errorf("said %d times that the issuer cannot revoke, want once at Info:\n%s", n, logs)
	}
	f.wantNoSecrets(t, toks...)
}

// hangingRevocation makes the issuer's revocation endpoint signal arrived and then answer
// only once release is closed, or give up when the request is abandoned or the test ends.
func hangingRevocation(t *testing.T, arrived chan<- struct{}, release <-chan struct{}) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != revokePath {
				next.ServeHTTP(w, r)
				return
			}
			r.ParseForm() // read the body: the server notices an abandoned request only then
			arrived <- struct{}{}
			select {
			case <-release:
				next.ServeHTTP(w, r)
			case <-r.Context().Done():
			case <-t.Context().Done():
			}
		})
	}
}

func TestRevocationDoesNotHoldTheStore(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	f := newWrappedFixture(t, hangingRevocation(t, arrived, release))
	s := f.open(t)
	tok, id := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, tok)
	other, otherID := f.signIn(t, 1)
	mustLink(t, s, "1001", "bob", otherID, other)

	done := make(chan error, 1)
	go func() {
		_, err := s.Unlink("1000")
		done <- err
	}()
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("Unlink returned (%v) without asking the issuer", err)
	}
	// While the issuer is being asked, the store answers, and the link is already gone.
	if _, ok := s.ForOSUser("1000"); ok {
		t.Error("the link is still there while revoking")
	}
	if len(s.Links()) != 1 || len(s.Accounts()) != 1 {
		t.Errorf("links %+v, accounts %+v while revoking", s.Links(), s.Accounts())
	}
	if _, err := s.TokenSource(otherID).Token(); err != nil {
		t.Errorf("another clinician's token while revoking: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Unlink returned (%v) before the issuer answered", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.wantRefused(t, tok.RefreshToken)
}

func TestRevocationIsBounded(t *testing.T) {
	arrived := make(chan struct{}, 1)
	f := newWrappedFixture(t, hangingRevocation(t, arrived, nil))
	s := f.open(t)
	s.revokeTimeout = 100 * time.Millisecond
	tok, id := f.signIn(t, 0)
	mustLink(t, s, "1000", "alice", id, tok)
	start := time.Now()
	if _, err := s.Unlink("1000"); err != nil {
		t.Fatalf("Unlink = %v, want success", err)
	}
	if d := time.Since(start); d >= RevokeTimeout {
		t.Errorf("Unlink took %v with a revocation bound of %v", d, s.revokeTimeout)
	}
	select {
	case <-arrived:
	default:
		t.Error("the issuer was not asked to revoke")
	}
	if _, ok := s.ForOSUser("1000"); ok || len(f.open(t).Accounts()) != 0 {
		t.Error("the link or the account survived")
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "deadline exceeded") {
		t.Errorf("no warning that the issuer did not answer in time:\n%s", logs)
	}
	f.wantNoSecrets(t, tok)
}
