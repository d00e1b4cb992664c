package link

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// Settings say where clinicians sign in: from the service's configuration
// (clinical.issuer, clinical.client_id, clinical.scopes).
type Settings struct {
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"clientId"`
	Scopes   []string `json:"scopes"`
}

// Endpoints are the issuer's OAuth 2.0 endpoints, from its OpenID Connect discovery
// document.
type Endpoints struct {
	Issuer      string `json:"issuer"`
	AuthURL     string `json:"authorization_endpoint"`
	TokenURL    string `json:"token_endpoint"`
	UserInfoURL string `json:"userinfo_endpoint"`
	JWKSURL     string `json:"jwks_uri"` // the keys ID tokens are signed with
	// RevocationURL is the token revocation endpoint (RFC 7009); "" if the issuer has none.
	RevocationURL string `json:"revocation_endpoint,omitempty"`
}

// discoveryPath is where an OpenID Connect issuer publishes its endpoints.
const discoveryPath = "/.well-known/openid-configuration"

// maxResponseBytes bounds what is read from the issuer.
const maxResponseBytes = 1 << 20

// Discover fetches issuer's endpoints. The document must name the same issuer.
func Discover(ctx context.Context, hc *http.Client, issuer string) (Endpoints, error) {
	var e Endpoints
	if err := getJSON(ctx, hc, strings.TrimSuffix(issuer, "/")+discoveryPath, nil, &e); err != nil {
		return Endpoints{}, fmt.Errorf("link: discover the sign-in endpoints of %s: %w", issuer, err)
	}
	if e.Issuer != issuer {
		return Endpoints{}, fmt.Errorf("link: discover %s: the document names issuer %q", issuer, e.Issuer)
	}
	if e.AuthURL == "" || e.TokenURL == "" || e.UserInfoURL == "" {
		return Endpoints{}, fmt.Errorf("link: discover %s: authorization, token or userinfo endpoint missing", issuer)
	}
	return e, nil
}

// OAuth2 returns the OAuth 2.0 client configuration of a public client (no secret: the
// client id is sent in the form) at these endpoints.
func (e Endpoints) OAuth2(s Settings) *oauth2.Config {
	return &oauth2.Config{
		ClientID: s.ClientID,
		Scopes:   s.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.AuthURL, TokenURL: e.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
}

// ClinicalUser is who a token belongs to, as the issuer's userinfo endpoint says.
type ClinicalUser struct {
	ID       string `json:"sub"` // the clinical system's user id (EMIS: user-in-role id)
	Name     string `json:"name,omitempty"`
	Username string `json:"preferred_username,omitempty"`
}

// UserInfo asks the issuer whose token tok is. It fails if the issuer does not accept the
// token.
func UserInfo(ctx context.Context, hc *http.Client, e Endpoints, tok *oauth2.Token) (ClinicalUser, error) {
	var u ClinicalUser
	if err := getJSON(ctx, hc, e.UserInfoURL, tok, &u); err != nil {
		return ClinicalUser{}, fmt.Errorf("link: userinfo: %w", err)
	}
	if u.ID == "" {
		return ClinicalUser{}, fmt.Errorf("link: userinfo: no subject")
	}
	return u, nil
}

func getJSON(ctx context.Context, hc *http.Client, url string, tok *oauth2.Token, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if tok != nil {
		tok.SetAuthHeader(req)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", req.URL.Redacted(), resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(v); err != nil {
		return fmt.Errorf("%s: decode: %w", req.URL.Redacted(), err)
	}
	return nil
}
