package idp

import (
	"crypto/subtle"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Registered clients of the simulated application.
const (
	// DesktopClientID is the Writeback Agent's public client: authorization
	// code with PKCE through a loopback redirect (any port; path /callback or
	// /), refresh tokens, and the resource owner password grant that EMIS-X
	// documents for automated testing only.
	DesktopClientID = "wbagent"
	// ServiceClientID and ServiceClientSecret are a confidential client for
	// machine-to-machine calls (client credentials).
	ServiceClientID     = "wbagent-service"
	ServiceClientSecret = "practicesim-service-secret"
)

// grantTypePassword is the resource owner password credentials grant
// (RFC 6749 §4.3), which op does not implement; see password.go.
const grantTypePassword oidc.GrantType = "password"

// loginPath is where op sends a browser to sign in.
const loginPath = "/login"

type client struct {
	id          string
	secret      string // empty for a public client
	appType     op.ApplicationType
	authMethod  oidc.AuthMethod
	redirects   []string
	grantTypes  []oidc.GrantType
	scopes      []string // API scopes it may request besides the OIDC ones
	idTokenLife time.Duration
}

func registeredClients(apiScopes []string, tokenLifetime time.Duration) map[string]*client {
	var loopback []string
	for _, host := range []string{"127.0.0.1", "localhost", "[::1]"} {
		loopback = append(loopback, "http://"+host+"/callback", "http://"+host+"/")
	}
	return map[string]*client{
		DesktopClientID: {
			id:          DesktopClientID,
			appType:     op.ApplicationTypeNative,
			authMethod:  oidc.AuthMethodNone,
			redirects:   loopback,
			grantTypes:  []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, grantTypePassword},
			scopes:      apiScopes,
			idTokenLife: tokenLifetime,
		},
		ServiceClientID: {
			id:          ServiceClientID,
			secret:      ServiceClientSecret,
			appType:     op.ApplicationTypeWeb,
			authMethod:  oidc.AuthMethodBasic,
			grantTypes:  []oidc.GrantType{oidc.GrantTypeClientCredentials},
			scopes:      apiScopes,
			idTokenLife: tokenLifetime,
		},
	}
}

func (c *client) secretMatches(secret string) bool {
	return c.secret != "" && subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) == 1
}

func (c *client) allows(g oidc.GrantType) bool { return slices.Contains(c.grantTypes, g) }

// op.Client:

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirects }
func (c *client) PostLogoutRedirectURIs() []string    { return c.redirects }
func (c *client) ApplicationType() op.ApplicationType { return c.appType }
func (c *client) AuthMethod() oidc.AuthMethod         { return c.authMethod }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType         { return c.grantTypes }
func (c *client) LoginURL(id string) string            { return loginPath + "?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration       { return c.idTokenLife }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.scopes, scope) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
