package emisx

import (
	"strings"

	"golang.org/x/oauth2"
)

// Scopes are the OAuth 2.0 scopes a clinician's link asks for: the Partner API's record
// write and read, patient search and configuration read, plus openid and offline_access (for
// the refresh token that keeps the link alive).
var Scopes = []string{"openid", "offline_access", "papi-cr.write", "papi-cr.read", "papi-subjects.read", "papi-config.read"}

// Endpoint returns the identity provider's authorization and token endpoints under issuer:
// issuer/authorize and issuer/oauth/token, where practicesim serves them. Check the real
// provider's discovery document (issuer/.well-known/openid-configuration) before relying on
// these paths.
func Endpoint(issuer string) oauth2.Endpoint {
	issuer = strings.TrimRight(issuer, "/")
	return oauth2.Endpoint{AuthURL: issuer + "/authorize", TokenURL: issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams}
}

// LinkConfig returns an OAuth 2.0 client that signs a clinician in to EMIS-X; tests and
// tools use it (emisxtest). The product links through agent/link/signin, which reads the
// endpoints from the issuer's discovery document instead of assuming them. The client is:
// the authorization code grant with PKCE, for a public (secretless) desktop client, through
// the system browser and a loopback redirect (RFC 8252), redirectURL being
// http://127.0.0.1:PORT/callback on a port the linking process listens on. The flow:
//
//	cfg := emisx.LinkConfig(emisx.Endpoint(issuer), clientID, redirectURL)
//	verifier := oauth2.GenerateVerifier()
//	state := rand.Text()
//	open the browser at cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
//	… the redirect brings code and state back to the loopback listener; check state …
//	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
//
// and hand tok (its refresh token above all) to the service over the local API, which keeps
// it encrypted and serves it to this package through Sessions. The same config refreshes the
// token (cfg.TokenSource).
func LinkConfig(endpoint oauth2.Endpoint, clientID, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: clientID, Endpoint: endpoint, RedirectURL: redirectURL, Scopes: Scopes}
}
