package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RevokeTimeout bounds revoking a dropped clinical user's token at the issuer (finding the
// revocation endpoint included).
const RevokeTimeout = 5 * time.Second

// ErrNoRevocation says the issuer advertises no token revocation endpoint.
var ErrNoRevocation = errors.New("the clinical system has no token revocation endpoint")

// RevokeRefreshToken asks the issuer to revoke a refresh token (RFC 7009, token_type_hint
// refresh_token), authenticating as the client does at the token endpoint: a public client,
// its id in the form. It fails with ErrNoRevocation if the issuer has no revocation
// endpoint. The error holds neither the token nor the issuer's error description (which
// might quote it), only the status and the OAuth error code.
func (e Endpoints) RevokeRefreshToken(ctx context.Context, hc *http.Client, s Settings, refreshToken string) error {
	if e.RevocationURL == "" {
		return fmt.Errorf("link: revoke: %w", ErrNoRevocation)
	}
	form := url.Values{
		"token":           {refreshToken},
		"token_type_hint": {"refresh_token"},
		"client_id":       {s.ClientID},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.RevocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("link: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("link: revoke: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		return nil
	}
	// An error response (RFC 6749 §5.2): name its code, which is one of a few fixed words;
	// its description is the issuer's free text and is left out.
	var oe struct {
		Code string `json:"error"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&oe)
	msg := fmt.Sprintf("link: revoke: %s answered %s", req.URL.Redacted(), resp.Status)
	if code := oauthErrorCode(oe.Code); code != "" {
		msg += " (" + code + ")"
	}
	return errors.New(msg)
}

// oauthErrorCode returns an OAuth error code if it is made of the characters RFC 6749 allows
// in one and is short, and "" otherwise.
func oauthErrorCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	for _, r := range code {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return ""
		}
	}
	return code
}

// revoke revokes the refresh token of a clinical user the store has dropped, best effort:
// bounded by RevokeTimeout, a failure is logged (without the token) and not returned. s.mu
// must not be held.
func (s *Store) revoke(clinicalUserID, refreshToken string) {
	if refreshToken == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.revokeTimeout)
	defer cancel()
	ep, err := s.discover(ctx)
	if err == nil {
		err = ep.RevokeRefreshToken(ctx, s.hc, s.opts.Settings, refreshToken)
	}
	switch {
	case err == nil:
		s.opts.Logger.Info("a sign-in no longer linked was revoked at the clinical system",
			"clinicalUserId", clinicalUserID)
	case errors.Is(err, ErrNoRevocation):
		s.noRevocationOnce.Do(func() {
			s.opts.Logger.Info("the clinical system has no token revocation endpoint: a sign-in no longer linked is deleted here but cannot be revoked there",
				"clinicalUserId", clinicalUserID, "issuer", s.opts.Settings.Issuer)
		})
	default:
		s.opts.Logger.Warn("a sign-in no longer linked was deleted here but not revoked at the clinical system",
			"clinicalUserId", clinicalUserID, "err", err)
	}
}
