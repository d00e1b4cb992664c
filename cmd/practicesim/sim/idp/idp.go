// Package idp is the simulator's OAuth 2.0 / OpenID Connect provider,
// standing in for the EMIS-X identity service. It is built on zitadel/oidc's
// op package, with storage kept in memory and a small sign-in page that lists
// the simulated staff.
//
// Grants: authorization code with PKCE (the desktop client), refresh tokens,
// client credentials (the service client), and the resource owner password
// grant, which EMIS-X documents for automated testing only and op does not
// implement, so this package adds it on top of op's token endpoint.
//
// Access tokens are ES256-signed JWTs carrying the granted scopes ("scope")
// and, for a signed-in user, the session ID ("sid"). A session starts when a
// user signs in: through the sign-in page or the password grant. A refresh
// grant keeps the session it refreshes; it is not a new sign-in. Signing out
// (end_session) ends the user's sessions and with them their refresh tokens.
// Revoking a refresh token (RFC 7009, /revoke) ends it and the access token
// issued with it.
//
// The signing key and the refresh tokens are saved to a state file, so that
// links made before a restart keep working after it.
package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Account is a user who can sign in.
type Account struct {
	Subject     string // the token subject: the user's user-in-role ID
	Username    string
	Password    string
	DisplayName string
	JobTitle    string
}

// Directory knows the accounts and keeps their sessions.
type Directory interface {
	Accounts() []Account
	// StartSession signs a user in; an error refuses the sign-in and its
	// text is shown to the user.
	StartSession(subject string) (sessionID string, err error)
	EndSessions(subject string) error
	SessionActive(sessionID string) bool
}

// Config configures a Provider.
type Config struct {
	// Issuer is the issuer URL; empty means the scheme and host of each
	// request, which suits a server on a port chosen at start-up.
	Issuer        string
	TokenLifetime time.Duration
	APIScopes     []string // scopes the clients may request besides OpenID's
	StatePath     string   // where to save the key and refresh tokens; empty: nowhere
	Directory     Directory
	Now           func() time.Time
	Logger        *slog.Logger
}

// Provider is the identity provider. It is an http.Handler for the OpenID
// Connect endpoints (discovery, /authorize, /oauth/token, /keys, /userinfo,
// /revoke, /end_session, /oauth/introspect) and the /login page.
type Provider struct {
	op      *op.Provider
	storage *storage
	dir     Directory
	now     func() time.Time
	logger  *slog.Logger
	mux     *http.ServeMux
}

// New creates a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	clients := registeredClients(cfg.APIScopes, cfg.TokenLifetime)
	st, err := openStorage(cfg.StatePath, cfg.Directory, clients, cfg.TokenLifetime, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("idp: open storage: %w", err)
	}
	issuer := op.IssuerFromHost("")
	if cfg.Issuer != "" {
		issuer = op.StaticIssuer(cfg.Issuer)
	}
	// op encrypts authorization codes with CryptoKey; codes need not
	// outlive the process, so a random key per start will do.
	var codeKey [32]byte
	rand.Read(codeKey[:])
	opConfig := &op.Config{
		CryptoKey:             codeKey,
		CodeMethodS256:        true,
		GrantTypeRefreshToken: true,
		SupportedScopes:       append([]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeOfflineAccess}, cfg.APIScopes...),
	}
	provider, err := op.NewProvider(opConfig, st, issuer, op.WithAllowInsecure(), op.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("idp: create provider: %w", err)
	}
	p := &Provider{op: provider, storage: st, dir: cfg.Directory, now: cfg.Now, logger: cfg.Logger, mux: http.NewServeMux()}
	p.mux.HandleFunc(loginPath, p.login)
	p.mux.HandleFunc("POST /oauth/token", p.token)
	p.mux.Handle("/", provider)
	return p, nil
}

func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

// Issuer returns the issuer URL for a request.
func (p *Provider) Issuer(r *http.Request) string { return p.op.IssuerFromRequest(r) }

// token routes the password grant to this package and every other grant to op.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("grant_type") == string(grantTypePassword) {
		p.passwordGrant(w, r)
		return
	}
	p.op.ServeHTTP(w, r)
}

// Grant is what a valid access token grants.
type Grant struct {
	Subject   string // user-in-role ID of the user, or the client ID for client credentials
	ClientID  string
	SessionID string // empty for client credentials
	Scopes    []string
	Expiry    time.Time
}

// HasScope reports whether the grant includes scope.
func (g Grant) HasScope(scope string) bool { return slices.Contains(g.Scopes, scope) }

// Errors from Verify.
var (
	ErrTokenInvalid = errors.New("idp: access token missing or not valid")
	ErrTokenExpired = errors.New("idp: access token expired")
)

// Verify checks the request's bearer access token: issued by this provider
// for the request's issuer, correctly signed, not expired, not revoked.
func (p *Provider) Verify(r *http.Request) (Grant, error) {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return Grant{}, ErrTokenInvalid
	}
	verifier := op.NewAccessTokenVerifier(p.Issuer(r), &op.OpenIDKeySet{Storage: p.storage})
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](r.Context(), raw, verifier)
	switch {
	case errors.Is(err, oidc.ErrExpired):
		return Grant{}, ErrTokenExpired
	case err != nil:
		return Grant{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	expiry := claims.GetExpiration()
	if !p.now().Before(expiry) {
		return Grant{}, ErrTokenExpired
	}
	if p.storage.revokedToken(claims.JWTID) {
		return Grant{}, fmt.Errorf("%w: revoked", ErrTokenInvalid)
	}
	sid, _ := claims.Claims[sessionClaim].(string)
	return Grant{Subject: claims.Subject, ClientID: claims.ClientID, SessionID: sid, Scopes: claims.Scopes, Expiry: expiry}, nil
}

func accountBySubject(d Directory, subject string) (Account, bool) {
	for _, a := range d.Accounts() {
		if a.Subject == subject {
			return a, true
		}
	}
	return Account{}, false
}

func accountByUsername(d Directory, username string) (Account, bool) {
	for _, a := range d.Accounts() {
		if strings.EqualFold(a.Username, username) {
			return a, true
		}
	}
	return Account{}, false
}

// issuerContext is the context op's token code expects: it reads the issuer
// from it.
func (p *Provider) issuerContext(r *http.Request) context.Context {
	return op.ContextWithIssuer(r.Context(), p.Issuer(r))
}
