package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/writeback-agent/wbagent/agent/durable"
)

// On Windows the data key is protected with DPAPI in user scope, for the account the service
// runs as (LocalSystem): only a process running as that account can unprotect it, with that
// account's DPAPI master key (kept by the system, in its own profile). Another user of the
// PC cannot, even holding a copy of the file, and neither can another PC.
//
// DPAPI-NG (NCryptProtectSecret with a "SID=S-1-5-18" descriptor) was not chosen: its SID
// protector needs an Active Directory domain (the Group Key Distribution Service), and a
// practice PC may be in a workgroup.
//
// Keys protected by earlier versions in machine scope (any local account could unprotect
// them) are migrated at the first load: protected again in user scope into
// ServiceKeyFileName, then the machine-scope file is deleted.
const (
	// ServiceKeyFileName holds the data key protected for the service's account.
	ServiceKeyFileName = "datakey-service.dpapi"
	// LegacyKeyFileName held the data key protected in machine scope (migrated, then deleted).
	LegacyKeyFileName = "datakey.dpapi"
)

var (
	// serviceEntropy is DPAPI's secondary secret for ServiceKeyFileName, tying the blob to
	// this product and format.
	serviceEntropy = []byte("WritebackAgent data key v2 (service account)")
	// legacyEntropy was the secondary secret of LegacyKeyFileName.
	legacyEntropy = []byte("WritebackAgent data key v1")
)

// dpapi is the part of DPAPI the key store uses; tests substitute a fake.
type dpapi interface {
	// protectUser protects data for the calling account only (user scope).
	protectUser(data, entropy []byte) ([]byte, error)
	// unprotect opens a blob of either scope, if the calling account may.
	unprotect(blob, entropy []byte) ([]byte, error)
}

// dpapiKeys loads and stores the data key in dir with api.
type dpapiKeys struct {
	dir string
	api dpapi
}

func (k dpapiKeys) load() ([]byte, error) {
	blob, err := os.ReadFile(filepath.Join(k.dir, ServiceKeyFileName))
	if err == nil {
		key, err := k.api.unprotect(blob, serviceEntropy)
		if err != nil {
			return nil, fmt.Errorf("DPAPI unprotect %s: %w (the key opens only for the account the Writeback Agent service runs as, LocalSystem)", ServiceKeyFileName, err)
		}
		// A migration interrupted after the new file was written leaves the old one: delete it.
		if err := os.Remove(filepath.Join(k.dir, LegacyKeyFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("delete the machine-scope %s: %w", LegacyKeyFileName, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return k.migrate()
}

// migrate moves a machine-scope key to user scope. It returns fs.ErrNotExist if there is none.
func (k dpapiKeys) migrate() ([]byte, error) {
	legacy := filepath.Join(k.dir, LegacyKeyFileName)
	blob, err := os.ReadFile(legacy)
	if err != nil {
		return nil, err
	}
	key, err := k.api.unprotect(blob, legacyEntropy)
	if err != nil {
		return nil, fmt.Errorf("DPAPI unprotect %s: %w", LegacyKeyFileName, err)
	}
	if err := k.store(key); err != nil {
		return nil, fmt.Errorf("migrate %s to the service account: %w", LegacyKeyFileName, err)
	}
	if err := os.Remove(legacy); err != nil {
		return nil, fmt.Errorf("migrate %s: delete the machine-scope copy: %w", LegacyKeyFileName, err)
	}
	if err := durable.SyncDir(k.dir); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", LegacyKeyFileName, err)
	}
	return key, nil
}

func (k dpapiKeys) store(key []byte) error {
	blob, err := k.api.protectUser(key, serviceEntropy)
	if err != nil {
		return fmt.Errorf("DPAPI protect: %w", err)
	}
	return durable.WriteFile(filepath.Join(k.dir, ServiceKeyFileName), blob, 0o600)
}
