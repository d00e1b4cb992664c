package source

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/writeback-agent/wbagent/agent/durable"
	"github.com/writeback-agent/wbagent/agent/seal"
)

// CredentialFile is the file in the data folder that holds the platform enrolment
// credential, sealed with the data key (`wbagentd enrol`).
const CredentialFile = "source-credential"

// PendingCredentialFile holds a credential `wbagentd enrol` left for the service to seal at
// its next start (on Windows, where enrol cannot open the data key: it opens only for the
// service's account). It is protected with seal.ProtectHandoff and deleted once adopted.
const PendingCredentialFile = "source-credential.pending"

// credentialAD binds the sealed credential to its purpose: another sealed value copied over
// the file fails to open.
var credentialAD = []byte("wbagent/source-credential/v1")

// ErrNoCredential is returned by LoadCredential when the PC has not been enrolled.
var ErrNoCredential = errors.New("source: no enrolment credential (run wbagentd enrol)")

// CleanCredential returns the credential as IT gave it, without surrounding white space
// (a trailing newline in a file), or an error that does not show it.
func CleanCredential(raw string) (string, error) {
	c := strings.TrimSpace(raw)
	switch {
	case c == "":
		return "", errors.New("source: the enrolment credential is empty")
	case len(c) > 4096:
		return "", errors.New("source: the enrolment credential is longer than 4096 characters: is it the right file?")
	case strings.IndexFunc(c, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return "", errors.New("source: the enrolment credential contains spaces or control characters: is it the right file?")
	}
	return c, nil
}

// SealCredential stores the enrolment credential in dir, sealed with s (mode 0600).
func SealCredential(dir string, s *seal.Sealer, credential string) error {
	c, err := CleanCredential(credential)
	if err != nil {
		return err
	}
	if err := durable.WriteFile(filepath.Join(dir, CredentialFile), s.Seal(nil, []byte(c), credentialAD), 0o600); err != nil {
		return fmt.Errorf("source: store the enrolment credential: %w", err)
	}
	return nil
}

// LoadCredential returns the enrolment credential sealed in dir, or ErrNoCredential.
func LoadCredential(dir string, s *seal.Sealer) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, CredentialFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoCredential
	}
	if err != nil {
		return "", fmt.Errorf("source: read the enrolment credential: %w", err)
	}
	c, err := s.Open(nil, b, credentialAD)
	if err != nil {
		return "", fmt.Errorf("source: open the enrolment credential: %w", err)
	}
	return string(c), nil
}

// StageCredential leaves the enrolment credential in dir for the service to seal with the data
// key at its next start (AdoptPendingCredential), protected with seal.ProtectHandoff.
func StageCredential(dir, credential string) error {
	c, err := CleanCredential(credential)
	if err != nil {
		return err
	}
	blob, err := seal.ProtectHandoff([]byte(c))
	if err != nil {
		return fmt.Errorf("source: protect the enrolment credential: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(dir, PendingCredentialFile), blob, 0o600); err != nil {
		return fmt.Errorf("source: store the enrolment credential: %w", err)
	}
	return nil
}

// AdoptPendingCredential seals a credential StageCredential left in dir with s, replacing any
// sealed one, and deletes the pending file. It reports whether there was one.
func AdoptPendingCredential(dir string, s *seal.Sealer) (bool, error) {
	path := filepath.Join(dir, PendingCredentialFile)
	blob, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("source: read the pending enrolment credential: %w", err)
	}
	c, err := seal.UnprotectHandoff(blob)
	if err != nil {
		return false, fmt.Errorf("source: open the pending enrolment credential: %w", err)
	}
	if err := SealCredential(dir, s, string(c)); err != nil {
		return false, err
	}
	if err := os.Remove(path); err != nil {
		return false, fmt.Errorf("source: delete the pending enrolment credential: %w", err)
	}
	return true, durable.SyncDir(dir)
}
