package seal

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fakeDPAPI models DPAPI's scopes: a user-scope blob opens only for the account that made
// it, a machine-scope blob for any account of the PC. The entropy must match.
type fakeDPAPI struct{ account string }

const (
	fakeUser    = 'U'
	fakeMachine = 'M'
)

func (f fakeDPAPI) seal(scope byte, data, entropy []byte) []byte {
	b := []byte{scope, byte(len(f.account))}
	b = append(b, f.account...)
	b = append(b, byte(len(entropy)))
	b = append(b, entropy...)
	return append(b, data...)
}

func (f fakeDPAPI) protectUser(data, entropy []byte) ([]byte, error) {
	return f.seal(fakeUser, data, entropy), nil
}

func (f fakeDPAPI) protectMachine(data, entropy []byte) ([]byte, error) {
	return f.seal(fakeMachine, data, entropy), nil
}

func (f fakeDPAPI) unprotect(b, entropy []byte) ([]byte, error) {
	scope, n := b[0], int(b[1])
	account, rest := string(b[2:2+n]), b[2+n:]
	e, data := rest[1:1+int(rest[0])], rest[1+int(rest[0]):]
	switch {
	case scope == fakeUser && account != f.account:
		return nil, errors.New("the key is not valid for use in specified state (another account's blob)")
	case !bytes.Equal(e, entropy):
		return nil, errors.New("the data is invalid (entropy)")
	}
	return data, nil
}

var (
	asService = fakeDPAPI{account: "S-1-5-18"}
	asUser    = fakeDPAPI{account: "S-1-5-21-1-2-3-1001"} // an ordinary user of the PC
)

// The service's key opens only for the service's account: another user of the PC holding a
// copy of the file cannot unprotect it (machine-scope DPAPI, used before, let any local
// account do so).
func TestServiceKeyOpensOnlyForTheServiceAccount(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{9}, KeySize)
	if err := (dpapiKeys{dir: dir, api: asService}).store(key); err != nil {
		t.Fatal(err)
	}
	got, err := dpapiKeys{dir: dir, api: asService}.load()
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("service load = %x, %v", got, err)
	}
	if got, err := (dpapiKeys{dir: dir, api: asUser}).load(); err == nil {
		t.Fatalf("another account unprotected the key: %x", got)
	}
	blob, _ := os.ReadFile(filepath.Join(dir, ServiceKeyFileName))
	if blob[0] != fakeUser {
		t.Errorf("the key was protected in scope %c, want user scope", blob[0])
	}
}

// A key an earlier version protected in machine scope is protected again for the service's
// account, and the machine-scope copy deleted, at the first load.
func TestMachineScopeKeyIsMigrated(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{5}, KeySize)
	legacy, _ := asService.protectMachine(key, legacyEntropy)
	if err := os.WriteFile(filepath.Join(dir, LegacyKeyFileName), legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (dpapiKeys{dir: dir, api: asUser}).unprotectLegacyForTest(); err != nil {
		t.Fatalf("precondition: the machine-scope key opens for any account: %v", err)
	}
	got, err := dpapiKeys{dir: dir, api: asService}.load()
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("load = %x, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyKeyFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the machine-scope key is still there: %v", err)
	}
	if _, err := (dpapiKeys{dir: dir, api: asUser}).load(); err == nil {
		t.Error("another account unprotected the migrated key")
	}
	again, err := dpapiKeys{dir: dir, api: asService}.load()
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("load after migration = %x, %v", again, err)
	}
}

func TestNoKeyIsNotExist(t *testing.T) {
	if _, err := (dpapiKeys{dir: t.TempDir(), api: asService}).load(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("load of nothing = %v, want fs.ErrNotExist", err)
	}
}

func (k dpapiKeys) unprotectLegacyForTest() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(k.dir, LegacyKeyFileName))
	if err != nil {
		return nil, err
	}
	return k.api.unprotect(b, legacyEntropy)
}

// A migration interrupted after the service's key was written leaves the machine-scope file:
// the next load deletes it.
func TestInterruptedMigrationIsFinished(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{6}, KeySize)
	if err := (dpapiKeys{dir: dir, api: asService}).store(key); err != nil {
		t.Fatal(err)
	}
	legacy, _ := asService.protectMachine(key, legacyEntropy)
	if err := os.WriteFile(filepath.Join(dir, LegacyKeyFileName), legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := (dpapiKeys{dir: dir, api: asService}).load(); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("load = %x, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyKeyFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the machine-scope key is still there: %v", err)
	}
}
