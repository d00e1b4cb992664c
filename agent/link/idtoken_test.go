package link

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/seal"
)

// fakeIssuer is an OpenID Connect issuer whose ID tokens a test shapes: discovery, signing
// keys, and a userinfo endpoint that says every access token "at-<sub>" is <sub>'s.
type fakeIssuer struct {
	*httptest.Server
	key *ecdsa.PrivateKey
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(Endpoints{Issuer: f.URL, AuthURL: f.URL + "/authorize", TokenURL: f.URL + "/token",
			UserInfoURL: f.URL + "/userinfo", JWKSURL: f.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		at := r.Header.Get("Authorization")
		if len(at) < len("Bearer at-") {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(ClinicalUser{ID: at[len("Bearer at-"):], Name: "Dr Test"})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// idToken signs claims with key (the issuer's unless another is given).
func idToken(t *testing.T, key *ecdsa.PrivateKey, claims IDClaims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// The service links a sign-in only if its ID token is signed by the configured issuer,
// was issued to the agent's client id (aud, azp), is current, and is about the clinical
// user with this access token. Before this check, the issuer's userinfo answer alone was
// enough: an access token the clinician gave another application linked as well.
func TestLinkChecksTheIDTokensIssuerAndAudience(t *testing.T) {
	iss := newFakeIssuer(t)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	const client, user, at = "wbagent", "501", "at-501"
	good := func() IDClaims {
		hash, _ := accessTokenHash(jose.ES256, at)
		return IDClaims{Claims: jwt.Claims{Issuer: iss.URL, Subject: user, Audience: jwt.Audience{client},
			Expiry: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now)},
			AuthorizedParty: client, AccessTokenHash: hash}
	}
	for _, tc := range []struct {
		name   string
		change func(*IDClaims)
		key    *ecdsa.PrivateKey
		none   bool // no ID token at all
		ok     bool
	}{
		{name: "issued to the agent", ok: true},
		{name: "without azp or at_hash, one audience", change: func(c *IDClaims) { c.AuthorizedParty, c.AccessTokenHash = "", "" }, ok: true},
		{name: "issued to another application", change: func(c *IDClaims) { c.Audience, c.AuthorizedParty = jwt.Audience{"other-app"}, "other-app" }},
		{name: "audience includes the agent, authorised party another", change: func(c *IDClaims) { c.Audience, c.AuthorizedParty = jwt.Audience{client, "other-app"}, "other-app" }},
		{name: "several audiences, no authorised party", change: func(c *IDClaims) { c.Audience, c.AuthorizedParty = jwt.Audience{"other-app", client}, "" }},
		{name: "authorised party another", change: func(c *IDClaims) { c.AuthorizedParty = "other-app" }},
		{name: "another issuer", change: func(c *IDClaims) { c.Issuer = "https://login.elsewhere.example" }},
		{name: "signed by another key", key: otherKey},
		{name: "expired", change: func(c *IDClaims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Hour)) }},
		{name: "another user", change: func(c *IDClaims) { c.Subject = "502" }},
		{name: "another access token", change: func(c *IDClaims) { c.AccessTokenHash, _ = accessTokenHash(jose.ES256, "at-999") }},
		{name: "no ID token", none: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealer, _ := seal.New(make([]byte, seal.KeySize))
			s, err := Open(Options{Dir: t.TempDir(), Sealer: sealer, HTTPClient: iss.Client(),
				Settings: Settings{Issuer: iss.URL, ClientID: client, Scopes: []string{"openid"}}})
			if err != nil {
				t.Fatal(err)
			}
			c := good()
			if tc.change != nil {
				tc.change(&c)
			}
			key := iss.key
			if tc.key != nil {
				key = tc.key
			}
			tok := &oauth2.Token{AccessToken: at, RefreshToken: "rt"}
			if !tc.none {
				tok = tok.WithExtra(map[string]any{"id_token": idToken(t, key, c)})
			}
			_, err = s.Link(t.Context(), "1000", "alice", user, tok)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrVerify)) {
				t.Errorf("Link = %v, want ok=%t or ErrVerify", err, tc.ok)
			}
			if linked := len(s.Links()) == 1; linked != tc.ok {
				t.Errorf("linked: %t", linked)
			}
		})
	}
}
