package link

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// discoverTimeout bounds finding the token endpoint before a refresh.
const discoverTimeout = 30 * time.Second

// TokenSource returns the token source the filing engine uses for a clinical user. Each
// Token call returns the stored token while it is valid and refreshes it otherwise,
// persisting what the refresh returns. It fails with ErrNotLinked once nobody is linked to
// the clinical user, and with a *RelinkError (without contacting the issuer again) once the
// issuer refused a refresh, until the clinician links again.
func (s *Store) TokenSource(clinicalUserID string) oauth2.TokenSource {
	return tokenSource{s: s, id: clinicalUserID}
}

type tokenSource struct {
	s  *Store
	id string
}

func (t tokenSource) Token() (*oauth2.Token, error) { return t.s.token(t.id) }

func (s *Store) token(id string) (*oauth2.Token, error) {
	s.mu.Lock()
	a, ok := s.accounts[id]
	switch {
	case !ok:
		s.mu.Unlock()
		return nil, fmt.Errorf("link: token of clinical user %s: %w", id, ErrNotLinked)
	case a.RelinkNeeded:
		s.mu.Unlock()
		return nil, &RelinkError{ClinicalUserID: id}
	}
	src := a.src
	s.mu.Unlock()

	if src == nil {
		ctx, cancel := context.WithTimeout(context.Background(), discoverTimeout)
		ep, err := s.discover(ctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("link: token of clinical user %s: %w", id, err)
		}
		s.mu.Lock()
		if a.src == nil {
			a.src = ep.OAuth2(s.opts.Settings).TokenSource(s.ctx, a.tok)
		}
		src = a.src
		s.mu.Unlock()
	}

	tok, err := src.Token()
	if err != nil {
		if code, refused := refusal(err); refused {
			s.relinkNeeded(a, code)
			return nil, &RelinkError{ClinicalUserID: id, Code: code}
		}
		return nil, fmt.Errorf("link: refresh the token of clinical user %s: %w", id, err)
	}
	s.mu.Lock()
	cur, had := s.accounts[id]
	if cur == a {
		if tok.AccessToken != a.tok.AccessToken {
			a.tok = tok
			if err := s.save(); err != nil {
				// The refreshed token works now; the next start may need the clinician to link again.
				s.opts.Logger.Error("refreshed token not saved", "clinicalUserId", id, "err", err)
			}
		}
		s.mu.Unlock()
		return tok, nil
	}
	stored := a.tok.RefreshToken
	s.mu.Unlock()
	// The clinician unlinked, or linked again, while this refresh was under way: its result
	// belongs to no link, and the unlink revoked only the refresh token it knew. A new one
	// the issuer returned would stay valid there: revoke it too.
	if tok.RefreshToken != "" && tok.RefreshToken != stored {
		s.revoke(id, tok.RefreshToken)
	}
	if !had {
		return nil, fmt.Errorf("link: token of clinical user %s: %w", id, ErrNotLinked)
	}
	return s.token(id) // linked again: the new sign-in
}

// refusal reports whether the issuer refused a refresh (as opposed to being unreachable),
// and its OAuth error code.
func refusal(err error) (string, bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return "", false
	}
	switch re.ErrorCode {
	case "invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope":
		return re.ErrorCode, true
	}
	refused := re.Response != nil &&
		(re.Response.StatusCode == http.StatusBadRequest || re.Response.StatusCode == http.StatusUnauthorized)
	return re.ErrorCode, refused
}

// relinkNeeded marks a clinical user as having to link again, unless they linked again
// meanwhile.
func (s *Store) relinkNeeded(a *account, code string) {
	s.mu.Lock()
	if s.accounts[a.ClinicalUserID] != a || a.RelinkNeeded {
		s.mu.Unlock()
		return
	}
	a.RelinkNeeded, a.src = true, nil
	err := s.save()
	s.mu.Unlock()
	s.opts.Logger.Warn("the clinical system refused to refresh a sign-in: the clinician must link again",
		"clinicalUserId", a.ClinicalUserID, "code", code)
	if err != nil {
		s.opts.Logger.Error("link store not saved", "err", err)
	}
	s.changed()
}
