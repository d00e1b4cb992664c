package idp

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// passwordGrant implements the resource owner password credentials grant
// (RFC 6749 §4.3) for clients registered for it. It signs the user in,
// starting a new session, and issues tokens through op exactly as the
// authorization code grant does.
func (p *Provider) passwordGrant(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(p.issuerContext(r))
	c, err := p.passwordClient(r)
	if err != nil {
		op.RequestError(w, r, err, p.logger)
		return
	}
	scopes, err := op.ValidateAuthReqScopes(c, strings.Fields(r.PostFormValue("scope")))
	if err != nil {
		op.RequestError(w, r, err, p.logger)
		return
	}
	acct, err := p.checkPassword(r.PostFormValue("username"), r.PostFormValue("password"))
	if err != nil {
		op.RequestError(w, r, err, p.logger)
		return
	}
	sid, err := p.dir.StartSession(acct.Subject)
	if err != nil {
		op.RequestError(w, r, oidc.ErrInvalidGrant().WithDescription("%s", err.Error()), p.logger)
		return
	}
	now := p.now()
	a := &authRequest{
		id: rand.Text(), clientID: c.id, scopes: scopes,
		responseType: oidc.ResponseTypeCode, created: now,
		subject: acct.Subject, sessionID: sid, authTime: now,
	}
	p.storage.addAuthRequest(a)
	resp, err := op.CreateTokenResponse(r.Context(), a, c, p.op, true, "", "")
	if err != nil {
		op.RequestError(w, r, err, p.logger)
		return
	}
	httphelper.MarshalJSON(w, resp)
}

// passwordClient authenticates the client of a password grant: by HTTP basic
// authentication or form fields, with a secret unless it is a public client.
func (p *Provider) passwordClient(r *http.Request) (*client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	c, ok := p.storage.clients[id]
	if !ok || (c.authMethod != oidc.AuthMethodNone && !c.secretMatches(secret)) {
		return nil, oidc.ErrInvalidClient().WithDescription("invalid client credentials")
	}
	if !c.allows(grantTypePassword) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("the client may not use the password grant")
	}
	return c, nil
}

// checkPassword finds the account a username and password belong to.
func (p *Provider) checkPassword(username, password string) (Account, error) {
	acct, ok := accountByUsername(p.dir, username)
	if !ok || subtle.ConstantTimeCompare([]byte(acct.Password), []byte(password)) != 1 {
		return Account{}, oidc.ErrInvalidGrant().WithDescription("invalid username or password")
	}
	return acct, nil
}
