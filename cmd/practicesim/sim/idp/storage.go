package idp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/writeback-agent/wbagent/cmd/practicesim/sim/statefile"
)

// authRequestLifetime bounds how long a sign-in may take.
const authRequestLifetime = 10 * time.Minute

// refreshTokenPrefix starts every refresh token. Its "~" is not in the base64url
// alphabet, so op's revocation endpoint, when it tries a refresh token as one of
// its own encrypted "tokenID:subject" tokens (with token_type_hint access_token,
// or a refresh token of another client), fails to decode it and hands RevokeToken
// the token itself. Without it the decryption (unauthenticated AES-CFB) would
// now and then yield garbage with one ":", which op takes for an access token ID.
const refreshTokenPrefix = "rt~"

// sessionClaim is the private access token claim carrying the session ID.
const sessionClaim = "sid"

var errNotFound = errors.New("not found")

// authRequest is a pending or completed authorization request. The password
// grant makes one too, already completed, so that both grants issue tokens
// through the same op code path.
type authRequest struct {
	id           string
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	created      time.Time

	subject   string // set when the user has signed in
	sessionID string
	authTime  time.Time
}

// op.AuthRequest:

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.subject != "" }

// refreshRecord is an issued refresh token, saved under the SHA-256 of the
// token so that the state file does not hold usable tokens.
type refreshRecord struct {
	ID        string    `json:"id"` // what GetRefreshTokenInfo gives op to revoke it by
	ClientID  string    `json:"clientId"`
	Subject   string    `json:"subject"`
	SessionID string    `json:"sessionId"`
	Scopes    []string  `json:"scopes"`
	AuthTime  time.Time `json:"authTime"`
	// AccessTokenID is the ID of the access token issued with it, revoked with it.
	AccessTokenID string `json:"accessTokenId,omitempty"`
}

// refreshRequest is a refresh grant in progress (op.RefreshTokenRequest).
type refreshRequest struct{ refreshRecord }

func (r *refreshRequest) GetAMR() []string                 { return []string{"pwd"} }
func (r *refreshRequest) GetAudience() []string            { return []string{r.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.AuthTime }
func (r *refreshRequest) GetClientID() string              { return r.ClientID }
func (r *refreshRequest) GetScopes() []string              { return r.Scopes }
func (r *refreshRequest) GetSubject() string               { return r.Subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.Scopes = scopes }

// clientRequest is a client credentials grant: the client is the subject.
type clientRequest struct {
	clientID string
	scopes   []string
}

func (c *clientRequest) GetSubject() string    { return c.clientID }
func (c *clientRequest) GetAudience() []string { return []string{c.clientID} }
func (c *clientRequest) GetScopes() []string   { return c.scopes }

// persisted is what the provider keeps across restarts.
type persisted struct {
	SigningKey    []byte                    `json:"signingKey"` // PKCS #8
	RefreshTokens map[string]*refreshRecord `json:"refreshTokens"`
}

// storage implements op.Storage (and the client credentials extension) in
// memory, saving the signing key and refresh tokens to a state file.
type storage struct {
	dir           Directory
	clients       map[string]*client
	tokenLifetime time.Duration
	now           func() time.Time
	path          string

	mu           sync.Mutex
	key          *signingKey
	authRequests map[string]*authRequest
	codes        map[string]string         // code → auth request ID
	refresh      map[string]*refreshRecord // by token hash
	revoked      map[string]time.Time      // access token ID → when it expires anyway
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.ClientCredentialsStorage       = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

func openStorage(path string, dir Directory, clients map[string]*client, tokenLifetime time.Duration, now func() time.Time) (*storage, error) {
	s := &storage{
		dir: dir, clients: clients, tokenLifetime: tokenLifetime, now: now, path: path,
		authRequests: map[string]*authRequest{},
		codes:        map[string]string{},
		refresh:      map[string]*refreshRecord{},
		revoked:      map[string]time.Time{},
	}
	var saved persisted
	found, err := statefile.Read(path, &saved)
	if err != nil {
		return nil, err
	}
	if found {
		if s.key, err = parseSigningKey(saved.SigningKey); err != nil {
			return nil, err
		}
		if saved.RefreshTokens != nil {
			s.refresh = saved.RefreshTokens
		}
		return s, nil
	}
	if s.key, err = newSigningKey(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s, s.save()
}

// save writes the key and the refresh tokens of live sessions; the caller
// holds s.mu.
func (s *storage) save() error {
	maps.DeleteFunc(s.refresh, func(_ string, r *refreshRecord) bool { return !s.dir.SessionActive(r.SessionID) })
	der, err := s.key.marshal()
	if err != nil {
		return err
	}
	return statefile.Write(s.path, persisted{SigningKey: der, RefreshTokens: s.refresh})
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// completeAuthRequest records that a user signed in for a pending request.
func (s *storage) completeAuthRequest(id, subject, sessionID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return errNotFound
	}
	a.subject, a.sessionID, a.authTime = subject, sessionID, s.now()
	return nil
}

// addAuthRequest stores an already completed request (the password grant).
func (s *storage) addAuthRequest(a *authRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[a.id] = a
}

// revokedToken reports whether an access token ID was revoked.
func (s *storage) revokedToken(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.revoked[id]
	return ok
}

// --- op.AuthStorage

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	maps.DeleteFunc(s.authRequests, func(_ string, a *authRequest) bool { return now.Sub(a.created) > authRequestLifetime })
	a := &authRequest{
		id:           rand.Text(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       req.Scopes,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		created:      now,
	}
	if req.CodeChallenge != "" {
		a.challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	s.authRequests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return nil, errNotFound
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	maps.DeleteFunc(s.codes, func(_, reqID string) bool { return reqID == id })
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return rand.Text(), s.now().Add(s.tokenLifetime), nil
}

func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	rec := &refreshRecord{ID: rand.Text(), Subject: req.GetSubject(), Scopes: req.GetScopes(), AccessTokenID: rand.Text()}
	switch r := req.(type) {
	case *authRequest:
		rec.ClientID, rec.SessionID, rec.AuthTime = r.clientID, r.sessionID, r.authTime
	case *refreshRequest:
		rec.ClientID, rec.SessionID, rec.AuthTime = r.ClientID, r.SessionID, r.AuthTime
	default:
		return "", "", time.Time{}, fmt.Errorf("idp: refresh token for %T", req)
	}
	token := refreshTokenPrefix + rand.Text()
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		delete(s.refresh, hashToken(current)) // rotation: the old token is spent
	}
	s.refresh[hashToken(token)] = rec
	if err := s.save(); err != nil {
		return "", "", time.Time{}, fmt.Errorf("idp: save refresh token: %w", err)
	}
	return rec.AccessTokenID, token, s.now().Add(s.tokenLifetime), nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	rec, ok := s.refresh[hashToken(token)]
	s.mu.Unlock()
	if !ok || !s.dir.SessionActive(rec.SessionID) {
		return nil, op.ErrInvalidRefreshToken
	}
	r := &refreshRequest{*rec}
	r.Scopes = slices.Clone(rec.Scopes)
	return r, nil
}

// TerminateSession signs the user out (end_session): every session of the
// user ends, and with it every refresh token.
func (s *storage) TerminateSession(_ context.Context, userID, _ string) error {
	if err := s.dir.EndSessions(userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save()
}

// RevokeToken revokes a token (RFC 7009). For a refresh token, op passes the
// record ID that GetRefreshTokenInfo returned, with its subject; for a refresh
// token GetRefreshTokenInfo did not accept (another client's), the token
// itself; for an access token, its ID (the JWT's jti) with its subject.
// Revoking a refresh token ends it and revokes the access token issued with
// it (RFC 7009 §2.1).
func (s *storage) RevokeToken(_ context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, rec, ok := s.refreshByIDOrToken(tokenOrID); ok {
		if rec.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("the token was issued to another client")
		}
		delete(s.refresh, h)
		if rec.AccessTokenID != "" {
			s.revokeAccessToken(rec.AccessTokenID)
		}
		if err := s.save(); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	}
	if userID != "" { // an access token ID
		s.revokeAccessToken(tokenOrID)
	}
	return nil // unknown tokens count as revoked (RFC 7009 §2.2)
}

// refreshByIDOrToken finds a refresh token by its record ID or by the token
// itself, and returns its key in s.refresh; the caller holds s.mu.
func (s *storage) refreshByIDOrToken(tokenOrID string) (string, *refreshRecord, bool) {
	if rec, ok := s.refresh[hashToken(tokenOrID)]; ok {
		return hashToken(tokenOrID), rec, true
	}
	for h, rec := range s.refresh {
		if rec.ID == tokenOrID {
			return h, rec, true
		}
	}
	return "", nil, false
}

// revokeAccessToken refuses an access token ID until it would have expired
// anyway; the caller holds s.mu.
func (s *storage) revokeAccessToken(id string) {
	now := s.now()
	maps.DeleteFunc(s.revoked, func(_ string, until time.Time) bool { return now.After(until) })
	s.revoked[id] = now.Add(s.tokenLifetime)
}

// GetRefreshTokenInfo tells op's revocation endpoint whose refresh token a
// token is and its ID, by which op then asks RevokeToken to revoke it.
func (s *storage) GetRefreshTokenInfo(_ context.Context, clientID, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.refresh[hashToken(token)]
	if !ok || rec.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rec.Subject, rec.ID, nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// --- op.OPStorage

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if c, ok := s.clients[id]; ok && c.secretMatches(secret) {
		return nil
	}
	return oidc.ErrInvalidClient().WithDescription("invalid client credentials")
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	s.setUserinfo(info, req.GetSubject(), scopes)
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	s.setUserinfo(info, subject, []string{oidc.ScopeProfile})
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, _, subject, clientID string) error {
	info := new(oidc.UserInfo)
	s.setUserinfo(info, subject, []string{oidc.ScopeProfile})
	resp.SetUserInfo(info)
	resp.Active = true
	resp.ClientID = clientID
	return nil
}

func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) {
	info.Subject = subject
	acct, ok := accountBySubject(s.dir, subject)
	if !ok || !slices.Contains(scopes, oidc.ScopeProfile) {
		return
	}
	info.Name = acct.DisplayName
	info.PreferredUsername = acct.Username
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetPrivateClaimsFromRequest puts the granted scopes and the session ID in
// access tokens: the Partner API needs both.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	claims := map[string]any{"scope": strings.Join(req.GetScopes(), " ")}
	switch r := req.(type) {
	case *authRequest:
		claims[sessionClaim] = r.sessionID
	case *refreshRequest:
		claims[sessionClaim] = r.SessionID
	}
	return claims, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("idp: JWT profile grants are not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("idp: JWT profile grants are not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// --- op.ClientCredentialsStorage

func (s *storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok || !c.secretMatches(secret) || !c.allows(oidc.GrantTypeClientCredentials) {
		return nil, oidc.ErrInvalidClient().WithDescription("invalid client credentials")
	}
	return c, nil
}

func (s *storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c := s.clients[id]
	for _, sc := range scopes {
		if !c.IsScopeAllowed(sc) {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not allowed", sc)
		}
	}
	return &clientRequest{clientID: id, scopes: scopes}, nil
}
