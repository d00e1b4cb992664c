package seal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/writeback-agent/wbagent/agent/internal/wine"
)

// blobFlags returns a DPAPI blob's dwFlags (after dwVersion, the provider GUID, the master
// key version and the master key GUID).
func blobFlags(t *testing.T, b []byte) uint32 {
	t.Helper()
	if len(b) < 44 {
		t.Fatalf("DPAPI blob of %d bytes", len(b))
	}
	return binary.LittleEndian.Uint32(b[40:44])
}

// With the real DPAPI: a new key is protected in user scope (no CRYPTPROTECT_LOCAL_MACHINE)
// and reopens; a machine-scope key of an earlier version is migrated.
func TestWindowsKeyIsUserScopeAndMigrates(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: %v, same=%v", err, bytes.Equal(k1, k2))
	}
	userBlob, err := os.ReadFile(filepath.Join(dir, ServiceKeyFileName))
	if err != nil {
		t.Fatal(err)
	}

	legacyDir := t.TempDir()
	key := bytes.Repeat([]byte{3}, KeySize)
	machineBlob, err := systemDPAPI{}.protectMachine(key, legacyEntropy)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacyDir, LegacyKeyFileName), machineBlob, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOrCreateKey(legacyDir)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("migrating load = %x, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(legacyDir, LegacyKeyFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the machine-scope key is still there: %v", err)
	}
	if again, err := LoadOrCreateKey(legacyDir); err != nil || !bytes.Equal(again, key) {
		t.Fatalf("load after migration = %x, %v", again, err)
	}

	if blobFlags(t, machineBlob)&windows.CRYPTPROTECT_LOCAL_MACHINE == 0 {
		if wine.Detected() {
			t.Skip("Wine's DPAPI does not record the scope in its blobs (dwFlags is 0): the scope is covered by TestServiceKeyOpensOnlyForTheServiceAccount")
		}
		t.Fatal("a machine-scope blob does not carry CRYPTPROTECT_LOCAL_MACHINE: the blob layout is not the one expected")
	}
	if blobFlags(t, userBlob)&windows.CRYPTPROTECT_LOCAL_MACHINE != 0 {
		t.Error("the data key is protected in machine scope: any local account could unprotect it")
	}
}

// A hand-off opens again, and is not the secret in clear.
func TestWindowsHandoffRoundTrip(t *testing.T) {
	secret := []byte("canary-handoff-secret")
	blob, err := ProtectHandoff(secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, secret) {
		t.Error("the hand-off holds the secret in clear")
	}
	got, err := UnprotectHandoff(blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("UnprotectHandoff = %q, %v", got, err)
	}
}
