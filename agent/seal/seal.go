// Package seal encrypts patient data at rest.
//
// Records are sealed with AES-256-GCM, bound to their identity (the record id) as associated
// data so that a ciphertext moved from one record to another fails to open. Attachment files
// are streamed through DARE (github.com/minio/sio: AES-256-GCM in 64 KiB authenticated
// packages, protected against reordering and truncation) with a key derived per file from
// the data key, a random salt and the file's identity, so large files are never held in
// memory whole. The data key itself is protected by the operating system (see key.go).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/minio/sio"
)

// KeySize is the size of the data key in bytes (AES-256).
const KeySize = 32

// Serialised format versions. Never change the meaning of a published value.
const (
	recordFormatV1 byte = 1 // version(1) || nonce(12) || AES-256-GCM ciphertext+tag
	streamFormatV1 byte = 1 // version(1) || salt(32) || DARE 2.0 stream (AES-256-GCM only)
)

const (
	nonceSize      = 12
	streamSaltSize = 32
	streamKeyInfo  = "wbagent/seal/stream/v1\x00"
)

// Overhead is the number of bytes Seal adds to a plaintext.
const Overhead = 1 + nonceSize + 16

// ErrTampered reports a ciphertext that does not authenticate: it was altered, truncated,
// belongs to another record, or was sealed with another key.
var ErrTampered = errors.New("seal: ciphertext failed authentication (tampered, moved or wrong key)")

// Sealer seals and opens data with one data key. It is safe for concurrent use.
type Sealer struct {
	key  [KeySize]byte
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte data key. The key is copied.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: data key is %d bytes, want %d", len(key), KeySize)
	}
	s := &Sealer{}
	copy(s.key[:], key)
	block, err := aes.NewCipher(s.key[:])
	if err != nil {
		return nil, fmt.Errorf("seal: new cipher: %w", err)
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("seal: new GCM: %w", err)
	}
	return s, nil
}

// Seal encrypts plaintext bound to ad (associated data: the record's identity) and appends
// the result to dst.
func (s *Sealer) Seal(dst, plaintext, ad []byte) []byte {
	// One allocation at most: room for the whole value, the nonce read straight into it.
	start := len(dst)
	dst = slices.Grow(dst, Overhead+len(plaintext))
	dst = append(dst, recordFormatV1)
	dst = dst[:start+1+nonceSize]
	nonce := dst[start+1:]
	if _, err := rand.Read(nonce); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ it crashes instead).
		panic("seal: reading random nonce: " + err.Error())
	}
	return s.aead.Seal(dst, nonce, plaintext, ad)
}

// Open decrypts a value produced by Seal with the same associated data, appending the
// plaintext to dst. Any mismatch returns ErrTampered.
func (s *Sealer) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != recordFormatV1 {
		return nil, ErrTampered
	}
	out, err := s.aead.Open(dst, sealed[1:1+nonceSize], sealed[1+nonceSize:], ad)
	if err != nil {
		return nil, ErrTampered
	}
	return out, nil
}

// streamConfig derives the per-file DARE configuration from the data key, the file's salt
// and its identity ad.
func (s *Sealer) streamConfig(salt, ad []byte) (sio.Config, error) {
	info := append([]byte(streamKeyInfo), ad...)
	key, err := hkdf.Key(sha256.New, s.key[:], salt, string(info), KeySize)
	if err != nil {
		return sio.Config{}, fmt.Errorf("seal: derive stream key: %w", err)
	}
	return sio.Config{
		MinVersion:   sio.Version20,
		MaxVersion:   sio.Version20,
		CipherSuites: []byte{sio.AES_256_GCM},
		Key:          key,
	}, nil
}

// EncryptWriter returns a writer that encrypts everything written to it into dst, bound to
// ad. Close must succeed to finish the stream; it does not close dst.
func (s *Sealer) EncryptWriter(dst io.Writer, ad []byte) (io.WriteCloser, error) {
	var hdr [1 + streamSaltSize]byte
	hdr[0] = streamFormatV1
	if _, err := rand.Read(hdr[1:]); err != nil {
		return nil, fmt.Errorf("seal: stream salt: %w", err)
	}
	cfg, err := s.streamConfig(hdr[1:], ad)
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("seal: write stream header: %w", err)
	}
	w, err := sio.EncryptWriter(dst, cfg)
	if err != nil {
		return nil, fmt.Errorf("seal: stream writer: %w", err)
	}
	return w, nil
}

// DecryptReader returns a reader of the plaintext of a stream written by EncryptWriter with
// the same ad. Tampering surfaces as ErrTampered from Read, at the latest at the end of the
// stream: consumers must read to io.EOF before trusting the content.
func (s *Sealer) DecryptReader(src io.Reader, ad []byte) (io.Reader, error) {
	var hdr [1 + streamSaltSize]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil || hdr[0] != streamFormatV1 {
		return nil, ErrTampered
	}
	cfg, err := s.streamConfig(hdr[1:], ad)
	if err != nil {
		return nil, err
	}
	r, err := sio.DecryptReader(src, cfg)
	if err != nil {
		return nil, fmt.Errorf("seal: stream reader: %w", err)
	}
	return tamperReader{r}, nil
}

// tamperReader maps DARE's authentication errors to ErrTampered.
type tamperReader struct{ r io.Reader }

func (t tamperReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	var serr sio.Error
	if errors.As(err, &serr) {
		err = ErrTampered
	}
	return n, err
}
