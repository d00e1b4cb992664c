package idp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// signingKey is the provider's token signing key: ECDSA P-256 (ES256), which
// is quick to generate, so a fresh simulator starts fast.
type signingKey struct {
	id  string
	key *ecdsa.PrivateKey
}

func newSigningKey() (*signingKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return keyFrom(key)
}

// parseSigningKey reads a key saved by marshal.
func parseSigningKey(der []byte) (*signingKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("parse signing key: %T is not an ECDSA key", k)
	}
	return keyFrom(key)
}

func keyFrom(key *ecdsa.PrivateKey) (*signingKey, error) {
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sum := sha256.Sum256(pub)
	return &signingKey{id: hex.EncodeToString(sum[:8]), key: key}, nil
}

func (k *signingKey) marshal() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k.key) }

// op.SigningKey:

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is the verification half, published at the keys endpoint.
type publicKey struct{ *signingKey }

// op.Key:

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.ES256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }
