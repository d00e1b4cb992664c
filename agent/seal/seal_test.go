package seal

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

func newSealer(t *testing.T) *Sealer {
	t.Helper()
	key := make([]byte, KeySize)
	rand.Read(key)
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := newSealer(t)
	pt := []byte(`{"nhsNumber":"9434765919"}`)
	ct := s.Seal(nil, pt, []byte("rec:1"))
	if bytes.Contains(ct, pt[5:15]) {
		t.Fatal("ciphertext contains plaintext")
	}
	got, err := s.Open(nil, ct, []byte("rec:1"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if len(ct) != len(pt)+Overhead {
		t.Fatalf("overhead %d, want %d", len(ct)-len(pt), Overhead)
	}
}

func TestOpenDetectsTamperingAndMoves(t *testing.T) {
	s := newSealer(t)
	ct := s.Seal(nil, []byte("patient data"), []byte("rec:1"))
	flipped := bytes.Clone(ct)
	flipped[len(flipped)-1] ^= 1
	other := newSealer(t)
	for name, open := range map[string]func() ([]byte, error){
		"other record id": func() ([]byte, error) { return s.Open(nil, ct, []byte("rec:2")) },
		"flipped bit":     func() ([]byte, error) { return s.Open(nil, flipped, []byte("rec:1")) },
		"truncated":       func() ([]byte, error) { return s.Open(nil, ct[:10], []byte("rec:1")) },
		"other key":       func() ([]byte, error) { return other.Open(nil, ct, []byte("rec:1")) },
		"unknown version": func() ([]byte, error) {
			v := bytes.Clone(ct)
			v[0] = 9
			return s.Open(nil, v, []byte("rec:1"))
		},
	} {
		if _, err := open(); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: err = %v, want ErrTampered", name, err)
		}
	}
}

func TestNewRejectsShortKey(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestStreamRoundTripAndTampering(t *testing.T) {
	s := newSealer(t)
	pt := make([]byte, 300_000) // several DARE packages
	rand.Read(pt)
	var buf bytes.Buffer
	w, err := s.EncryptWriter(&buf, []byte("att:1:0"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ct := buf.Bytes()

	read := func(data, ad []byte) ([]byte, error) {
		r, err := s.DecryptReader(bytes.NewReader(data), ad)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	got, err := read(ct, []byte("att:1:0"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("round trip: %d bytes, %v", len(got), err)
	}
	flipped := bytes.Clone(ct)
	flipped[len(flipped)/2] ^= 1
	for name, c := range map[string]struct{ data, ad []byte }{
		"other identity": {ct, []byte("att:2:0")},
		"flipped bit":    {flipped, []byte("att:1:0")},
		"truncated":      {ct[:len(ct)-100], []byte("att:1:0")},
		"cut at package": {ct[:1+streamSaltSize+64*1024+32], []byte("att:1:0")},
	} {
		if _, err := read(c.data, c.ad); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: err = %v, want ErrTampered", name, err)
		}
	}
}
