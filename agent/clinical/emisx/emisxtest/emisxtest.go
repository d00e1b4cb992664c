// Package emisxtest links clinicians for tests of the EMIS-X adapter: Sessions signs a
// clinician in with the resource owner password grant, which EMIS-X documents for automated
// testing and practicesim offers (the agent itself links clinicians through the browser with
// emisx.LinkConfig), keeps their tokens in memory and serves them as emisx.Sessions.
//
// It does not import the simulator, so that nothing under agent/ depends on it; tests pass
// it the simulator's token endpoint and client id.
package emisxtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/writeback-agent/wbagent/agent/clinical"
	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
)

// Sessions holds linked clinicians' tokens in memory. It implements emisx.Sessions and
// emisx.TokenExpirer, and is safe for concurrent use. Refreshes are serialised, as refresh
// tokens rotate.
type Sessions struct {
	cfg *oauth2.Config

	mu     sync.Mutex
	tokens map[string]*oauth2.Token // by clinical user id
}

var (
	_ emisx.Sessions     = (*Sessions)(nil)
	_ emisx.TokenExpirer = (*Sessions)(nil)
)

// NewSessions returns an empty store whose clinicians sign in and refresh with cfg (for the
// simulator: emisx.LinkConfig(emisx.Endpoint(base), idp.DesktopClientID, any loopback URL)).
func NewSessions(cfg *oauth2.Config) *Sessions {
	return &Sessions{cfg: cfg, tokens: map[string]*oauth2.Token{}}
}

// SignIn links clinicalUserID by signing in as username with the password grant, replacing
// any link it had.
func (s *Sessions) SignIn(ctx context.Context, clinicalUserID, username, password string) error {
	tok, err := s.cfg.PasswordCredentialsToken(ctx, username, password)
	if err != nil {
		return fmt.Errorf("emisxtest: sign in as %s: %w", username, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[clinicalUserID] = tok
	return nil
}

// Unlink forgets a clinician's tokens.
func (s *Sessions) Unlink(clinicalUserID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, clinicalUserID)
}

// TokenSource returns the clinician's token source, or clinical.ErrNotLinked.
func (s *Sessions) TokenSource(ctx context.Context, clinicalUserID string) (oauth2.TokenSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[clinicalUserID]; !ok {
		return nil, clinical.ErrNotLinked
	}
	return tokenSource{s: s, ctx: ctx, user: clinicalUserID}, nil
}

// ExpireToken makes the clinician's next token a refreshed one.
func (s *Sessions) ExpireToken(_ context.Context, clinicalUserID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[clinicalUserID]
	if !ok {
		return clinical.ErrNotLinked
	}
	stale := *tok
	stale.Expiry = time.Now().Add(-time.Minute)
	s.tokens[clinicalUserID] = &stale
	return nil
}

type tokenSource struct {
	s    *Sessions
	ctx  context.Context
	user string
}

// Token returns the clinician's access token, refreshing it (and keeping the rotated refresh
// token) once it is about to expire.
func (ts tokenSource) Token() (*oauth2.Token, error) {
	s := ts.s
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[ts.user]
	if !ok {
		return nil, clinical.ErrNotLinked
	}
	if tok.Valid() {
		return tok, nil
	}
	fresh, err := s.cfg.TokenSource(ts.ctx, tok).Token()
	if err != nil {
		return nil, err
	}
	s.tokens[ts.user] = fresh
	return fresh, nil
}
