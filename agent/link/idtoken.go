package link

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// idTokenAlgorithms are the signature algorithms an ID token may be signed with.
var idTokenAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512,
}

// idTokenLeeway is the clock difference tolerated when checking an ID token's times.
const idTokenLeeway = 5 * time.Minute

// IDClaims are the claims of an ID token the agent checks.
type IDClaims struct {
	jwt.Claims
	AuthorizedParty string `json:"azp,omitempty"`
	AccessTokenHash string `json:"at_hash,omitempty"`
}

// IDToken returns the raw ID token the issuer returned with tok ("" if none).
func IDToken(tok *oauth2.Token) string {
	if tok == nil {
		return ""
	}
	s, _ := tok.Extra("id_token").(string)
	return s
}

// VerifyIDToken checks the ID token that came with tok (OpenID Connect Core 1.0, 3.1.3.7):
// signed by a key the issuer publishes (its jwks_uri), issued by s.Issuer, for s.ClientID
// (in its audience, and its authorised party when it names one or has several audiences),
// not expired, about clinicalUserID (its subject) and, when it carries an access token hash,
// issued with tok's access token. A token issued to another application, or by another
// issuer, is refused with an error matching ErrVerify.
func VerifyIDToken(ctx context.Context, hc *http.Client, e Endpoints, s Settings, tok *oauth2.Token, clinicalUserID string, now time.Time) (IDClaims, error) {
	fail := func(format string, args ...any) (IDClaims, error) {
		return IDClaims{}, fmt.Errorf("%w: the ID token %s", ErrVerify, fmt.Sprintf(format, args...))
	}
	raw := IDToken(tok)
	if raw == "" {
		return fail("is missing (the sign-in must request the openid scope)")
	}
	parsed, err := jwt.ParseSigned(raw, idTokenAlgorithms)
	if err != nil {
		return fail("cannot be read: %v", err)
	}
	if e.JWKSURL == "" {
		return IDClaims{}, fmt.Errorf("%w: the issuer publishes no signing keys (jwks_uri)", ErrVerify)
	}
	var keys jose.JSONWebKeySet
	if err := getJSON(ctx, hc, e.JWKSURL, nil, &keys); err != nil {
		return IDClaims{}, fmt.Errorf("link: fetch the issuer's signing keys: %w", err)
	}
	var claims IDClaims
	if err := verifyWithKeys(parsed, keys, &claims); err != nil {
		return fail("is not signed by the issuer: %v", err)
	}
	switch err := claims.ValidateWithLeeway(jwt.Expected{Issuer: s.Issuer, AnyAudience: jwt.Audience{s.ClientID}, Time: now}, idTokenLeeway); {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return fail("was issued by %q, not %q", claims.Issuer, s.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return fail("was issued to another application (audience %v), not to client %q", []string(claims.Audience), s.ClientID)
	case err != nil:
		return fail("is not valid now: %v", err)
	}
	if claims.Expiry == nil {
		return fail("has no expiry")
	}
	if (claims.AuthorizedParty != "" || len(claims.Audience) > 1) && claims.AuthorizedParty != s.ClientID {
		return fail("was issued to another application (authorised party %q), not to client %q", claims.AuthorizedParty, s.ClientID)
	}
	if claims.Subject != clinicalUserID {
		return fail("belongs to clinical user %s, not %s", claims.Subject, clinicalUserID)
	}
	if claims.AccessTokenHash != "" {
		alg := jose.SignatureAlgorithm(parsed.Headers[0].Algorithm)
		want, ok := accessTokenHash(alg, tok.AccessToken)
		if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(claims.AccessTokenHash)) != 1 {
			return fail("was not issued with this access token (at_hash)")
		}
	}
	return claims, nil
}

// verifyWithKeys checks the signature with the key the token names, or with each key if it
// names none, and decodes the claims.
func verifyWithKeys(t *jwt.JSONWebToken, keys jose.JSONWebKeySet, claims *IDClaims) error {
	candidates := keys.Keys
	if kid := t.Headers[0].KeyID; kid != "" {
		candidates = keys.Key(kid)
	}
	candidates = slices.DeleteFunc(slices.Clone(candidates), func(k jose.JSONWebKey) bool { return !k.IsPublic() || (k.Use != "" && k.Use != "sig") })
	if len(candidates) == 0 {
		return errors.New("no published key matches")
	}
	var err error
	for _, k := range candidates {
		if err = t.Claims(k.Key, claims); err == nil {
			return nil
		}
	}
	return err
}

// accessTokenHash is at_hash for an access token: the left half of its hash with the
// signature algorithm's hash function, base64url without padding.
func accessTokenHash(alg jose.SignatureAlgorithm, accessToken string) (string, bool) {
	var h hash.Hash
	switch alg {
	case jose.RS256, jose.PS256, jose.ES256:
		h = sha256.New()
	case jose.RS384, jose.PS384, jose.ES384:
		h = sha512.New384()
	case jose.RS512, jose.PS512, jose.ES512:
		h = sha512.New()
	default:
		return "", false
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), true
}
