package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

var apiScopes = []string{"papi-cr.write", "papi-cr.read"}

// directory is an in-memory Directory.
type directory struct {
	mu       sync.Mutex
	sessions map[string]string // session → subject
	inactive map[string]bool
}

var accounts = []Account{
	{Subject: "10001", Username: "agp", Password: "pw-agp", DisplayName: "Dr Ann GP", JobTitle: "General Medical Practitioner"},
	{Subject: "10002", Username: "brec", Password: "pw-brec", DisplayName: "Mr Bob Rec", JobTitle: "Receptionist"},
}

func newDirectory() *directory {
	return &directory{sessions: map[string]string{}, inactive: map[string]bool{}}
}

func (d *directory) Accounts() []Account { return accounts }

func (d *directory) StartSession(subject string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inactive[subject] {
		return "", errors.New("the user's EMIS account is inactive")
	}
	sid := rand.Text()
	d.sessions[sid] = subject
	return sid, nil
}

func (d *directory) EndSessions(subject string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for sid, s := range d.sessions {
		if s == subject {
			delete(d.sessions, sid)
		}
	}
	return nil
}

func (d *directory) SessionActive(sid string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sessions[sid]
	return ok
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	provider *Provider
	server   *httptest.Server
	dir      *directory
	clock    *clock
}

func start(t *testing.T, statePath string, dir *directory) *fixture {
	t.Helper()
	f := &fixture{dir: dir, clock: &clock{t: time.Now()}}
	p, err := New(Config{TokenLifetime: time.Hour, APIScopes: apiScopes, StatePath: statePath, Directory: dir, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	f.provider = p
	f.server = httptest.NewServer(p)
	t.Cleanup(f.server.Close)
	return f
}

// signIn signs the GP "agp" in with the desktop client (password grant).
func (f *fixture) signIn(t *testing.T) *oauth2.Token {
	t.Helper()
	tok, err := f.desktop().PasswordCredentialsToken(context.Background(), "agp", "pw-agp")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) desktop() *oauth2.Config {
	return &oauth2.Config{
		ClientID: DesktopClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:   f.server.URL + "/authorize",
			TokenURL:  f.server.URL + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: "http://127.0.0.1:53682/callback",
		Scopes:      []string{"openid", "profile", "offline_access", "papi-cr.write"},
	}
}

// verify checks a token the way the Partner API does.
func (f *fixture) verify(token string) (Grant, error) {
	r := httptest.NewRequest("GET", f.server.URL+"/api/v1/x", nil)
	r.Host = strings.TrimPrefix(f.server.URL, "http://")
	r.Header.Set("Authorization", "Bearer "+token)
	return f.provider.Verify(r)
}

func TestPasswordGrantAndRefresh(t *testing.T) {
	f := start(t, "", newDirectory())
	ctx := context.Background()
	tok, err := f.desktop().PasswordCredentialsToken(ctx, "agp", "pw-agp")
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Errorf("token response lacks a refresh or ID token: %+v", tok)
	}
	g, err := f.verify(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if g.Subject != "10001" || g.ClientID != DesktopClientID || g.SessionID == "" || !g.HasScope("papi-cr.write") || g.HasScope("papi-cr.read") {
		t.Errorf("grant = %+v", g)
	}

	tok.Expiry = time.Now().Add(-time.Minute) // make the token source refresh
	refreshed, err := f.desktop().TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	g2, err := f.verify(refreshed.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if g2.SessionID != g.SessionID {
		t.Error("a refresh started a new session; it must keep the one it refreshes")
	}
	if refreshed.RefreshToken == tok.RefreshToken {
		t.Error("refresh token not rotated")
	}
	if _, err := f.desktop().TokenSource(ctx, tok).Token(); err == nil {
		t.Error("a spent refresh token was accepted again")
	}
}

func TestPasswordGrantRefusals(t *testing.T) {
	dir := newDirectory()
	dir.inactive["10002"] = true
	f := start(t, "", dir)
	tests := []struct {
		name      string
		form      url.Values
		wantError string
	}{
		{"wrong password", url.Values{"client_id": {DesktopClientID}, "username": {"agp"}, "password": {"nope"}}, "invalid_grant"},
		{"unknown user", url.Values{"client_id": {DesktopClientID}, "username": {"zed"}, "password": {"x"}}, "invalid_grant"},
		{"inactive account", url.Values{"client_id": {DesktopClientID}, "username": {"brec"}, "password": {"pw-brec"}}, "invalid_grant"},
		{"unknown client", url.Values{"client_id": {"nope"}, "username": {"agp"}, "password": {"pw-agp"}}, "invalid_client"},
		{"client not registered for it", url.Values{"client_id": {ServiceClientID}, "client_secret": {ServiceClientSecret}, "username": {"agp"}, "password": {"pw-agp"}}, "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("grant_type", "password")
			tt.form.Set("scope", "openid papi-cr.write")
			resp, err := http.PostForm(f.server.URL+"/oauth/token", tt.form)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 400 || !strings.Contains(string(body), `"error":"`+tt.wantError+`"`) {
				t.Errorf("status %d, body %s; want error %s", resp.StatusCode, body, tt.wantError)
			}
		})
	}
}

func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signInThroughBrowser walks the authorization code flow the way a browser
// and the agent would, and returns the code.
func signInThroughBrowser(t *testing.T, f *fixture, cfg *oauth2.Config, verifier, username, password string) (string, *http.Response) {
	t.Helper()
	browser := noRedirects()
	resp, err := browser.Get(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loginURL, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize answered %d without a redirect to the sign-in page", resp.StatusCode)
	}
	id := loginURL.Query().Get("authRequestID")

	page, err := browser.Get(loginURL.String())
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), "Dr Ann GP") || !strings.Contains(string(html), "Mr Bob Rec") {
		t.Fatalf("sign-in page: %d, %s", page.StatusCode, html)
	}

	resp, err = browser.PostForm(f.server.URL+"/login", url.Values{"authRequestID": {id}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", resp
	}
	callback, _ := resp.Location()
	resp, err = browser.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := resp.Location()
	if err != nil {
		t.Fatalf("callback answered %d", resp.StatusCode)
	}
	if !strings.HasPrefix(back.String(), cfg.RedirectURL) || back.Query().Get("state") != "st4te" {
		t.Fatalf("redirected to %s", back)
	}
	return back.Query().Get("code"), resp
}

func TestAuthorizationCodeWithPKCE(t *testing.T) {
	f := start(t, "", newDirectory())
	cfg := f.desktop()
	verifier := oauth2.GenerateVerifier()
	code, _ := signInThroughBrowser(t, f, cfg, verifier, "agp", "pw-agp")
	if code == "" {
		t.Fatal("no code")
	}
	if _, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption("wrong-"+verifier)); err == nil {
		t.Error("code exchanged with the wrong PKCE verifier")
	}
	code, _ = signInThroughBrowser(t, f, cfg, verifier, "agp", "pw-agp")
	tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.verify(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if g.Subject != "10001" || g.SessionID == "" || tok.RefreshToken == "" {
		t.Errorf("grant %+v, refresh token %q", g, tok.RefreshToken)
	}
}

func TestSignInPageRefusals(t *testing.T) {
	dir := newDirectory()
	dir.inactive["10002"] = true
	f := start(t, "", dir)
	cfg := f.desktop()
	if _, resp := signInThroughBrowser(t, f, cfg, oauth2.GenerateVerifier(), "agp", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d", resp.StatusCode)
	}
	if _, resp := signInThroughBrowser(t, f, cfg, oauth2.GenerateVerifier(), "brec", "pw-brec"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("inactive account: status %d", resp.StatusCode)
	}
	resp, err := http.Get(f.server.URL + "/login?authRequestID=unknown")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown request: status %d", resp.StatusCode)
	}
	resp, err = http.Get(f.server.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(html), "Dr Ann GP") {
		t.Errorf("bare sign-in page: %d", resp.StatusCode)
	}
}

func TestClientCredentials(t *testing.T) {
	f := start(t, "", newDirectory())
	cc := &clientcredentials.Config{
		ClientID: ServiceClientID, ClientSecret: ServiceClientSecret,
		TokenURL: f.server.URL + "/oauth/token", Scopes: []string{"papi-cr.read"},
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.verify(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if g.Subject != ServiceClientID || g.SessionID != "" || !g.HasScope("papi-cr.read") {
		t.Errorf("grant = %+v", g)
	}
	cc.ClientSecret = "wrong"
	if _, err := cc.Token(context.Background()); err == nil {
		t.Error("wrong client secret accepted")
	}
}

func TestVerify(t *testing.T) {
	f := start(t, "", newDirectory())
	other := start(t, "", newDirectory())
	tok := f.signIn(t)
	foreign := other.signIn(t)
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"missing", "", ErrTokenInvalid},
		{"garbage", "not-a-jwt", ErrTokenInvalid},
		{"another provider's", foreign.AccessToken, ErrTokenInvalid},
		{"tampered", tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA", ErrTokenInvalid},
	}
	for _, tt := range tests {
		if _, err := f.verify(tt.token); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	f.clock.advance(61 * time.Minute)
	if _, err := f.verify(tok.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("after its lifetime: %v, want ErrTokenExpired", err)
	}
}

func TestRevokedAccessTokenIsRefused(t *testing.T) {
	f := start(t, "", newDirectory())
	tok := f.signIn(t)
	resp, err := http.PostForm(f.server.URL+"/revoke", url.Values{"client_id": {DesktopClientID}, "token": {tok.AccessToken}, "token_type_hint": {"access_token"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, err := f.verify(tok.AccessToken); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("revoked token: %v", err)
	}
}

// revoke posts an RFC 7009 revocation request and returns the status and body.
func (f *fixture) revoke(t *testing.T, form url.Values, basicUser, basicPassword string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.server.URL+"/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPassword)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// refreshGrant posts a refresh grant for the desktop client and returns the
// status and body.
func (f *fixture) refreshGrant(t *testing.T, refreshToken string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(f.server.URL+"/oauth/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {DesktopClientID},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestRevokedRefreshTokenIsRefused(t *testing.T) {
	for _, hint := range []string{"refresh_token", "", "access_token"} {
		t.Run("hint "+hint, func(t *testing.T) {
			f := start(t, "", newDirectory())
			tok := f.signIn(t)
			other := f.signIn(t)
			form := url.Values{"client_id": {DesktopClientID}, "token": {tok.RefreshToken}}
			if hint != "" {
				form.Set("token_type_hint", hint)
			}
			if status, body := f.revoke(t, form, "", ""); status != http.StatusOK {
				t.Fatalf("revoke: %d %s", status, body)
			}
			if status, body := f.refreshGrant(t, tok.RefreshToken); status != http.StatusBadRequest || !strings.Contains(body, `"error":"invalid_grant"`) {
				t.Errorf("refresh with the revoked token: %d %s, want 400 invalid_grant", status, body)
			}
			if _, err := f.verify(tok.AccessToken); !errors.Is(err, ErrTokenInvalid) {
				t.Errorf("the access token issued with the revoked refresh token: %v, want ErrTokenInvalid", err)
			}
			// Another sign-in of the same user is not affected.
			if status, body := f.refreshGrant(t, other.RefreshToken); status != http.StatusOK {
				t.Errorf("refresh with another sign-in's token: %d %s", status, body)
			}
			// Revoking it again, or an unknown token, succeeds (RFC 7009 §2.2).
			if status, body := f.revoke(t, form, "", ""); status != http.StatusOK {
				t.Errorf("revoke again: %d %s", status, body)
			}
		})
	}
}

func TestRevokedRefreshTokenStaysRevokedAfterARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.json")
	dir := newDirectory()
	before := start(t, path, dir)
	tok := before.signIn(t)
	form := url.Values{"client_id": {DesktopClientID}, "token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	if status, body := before.revoke(t, form, "", ""); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	after := start(t, path, dir)
	if status, body := after.refreshGrant(t, tok.RefreshToken); status != http.StatusBadRequest {
		t.Errorf("refresh with the revoked token after a restart: %d %s", status, body)
	}
}

func TestAnotherClientCannotRevokeARefreshToken(t *testing.T) {
	f := start(t, "", newDirectory())
	tok := f.signIn(t)
	form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
	if status, body := f.revoke(t, form, ServiceClientID, ServiceClientSecret); status != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") {
		t.Errorf("revoke by another client: %d %s, want 401 invalid_client", status, body)
	}
	if status, body := f.refreshGrant(t, tok.RefreshToken); status != http.StatusOK {
		t.Errorf("refresh after another client's revocation attempt: %d %s", status, body)
	}
}

func TestLinksSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idp.json")
	dir := newDirectory()
	before := start(t, path, dir)
	tok := before.signIn(t)
	before.server.Close()

	after := start(t, path, dir)
	// The same issuer (host and port) is needed for the old access token.
	after.server.Close()
	after.server = httptest.NewUnstartedServer(after.provider)
	after.server.Listener.Close()
	after.server.Listener = listenOn(t, before.server.Listener.Addr().String())
	after.server.Start()
	if _, err := after.verify(tok.AccessToken); err != nil {
		t.Errorf("access token after restart: %v", err)
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	if _, err := after.desktop().TokenSource(context.Background(), tok).Token(); err != nil {
		t.Errorf("refresh after restart: %v", err)
	}
}

func TestSignOutEndsRefresh(t *testing.T) {
	dir := newDirectory()
	f := start(t, "", dir)
	tok := f.signIn(t)
	idToken, _ := tok.Extra("id_token").(string)
	resp, err := noRedirects().Get(f.server.URL + "/end_session?" + url.Values{"id_token_hint": {idToken}, "client_id": {DesktopClientID}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if dir.SessionActive(mustVerify(t, f, tok.AccessToken).SessionID) {
		t.Fatal("session still active after signing out")
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	if _, err := f.desktop().TokenSource(context.Background(), tok).Token(); err == nil {
		t.Error("refresh succeeded after signing out")
	}
}

func mustVerify(t *testing.T, f *fixture, token string) Grant {
	t.Helper()
	g, err := f.verify(token)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestDiscovery(t *testing.T) {
	f := start(t, "", newDirectory())
	resp, err := http.Get(f.server.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`"issuer":"%s"`, f.server.URL),
		`"token_endpoint":"` + f.server.URL + `/oauth/token"`,
		`"revocation_endpoint":"` + f.server.URL + `/revoke"`,
		`"S256"`, `"ES256"`, `"papi-cr.write"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("discovery lacks %s: %s", want, body)
		}
	}
}

func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
