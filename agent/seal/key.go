package seal

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
)

// LoadOrCreateKey returns the installation's data key, creating and protecting a new random
// one in dir on first use. How the key is protected depends on the operating system:
//   - Windows: DPAPI in user scope for the service's account (LocalSystem): only a process
//     running as that account can unprotect it (key_dpapi.go), in dir\datakey-service.dpapi;
//   - macOS: the Keychain (service "WritebackAgent");
//   - other systems (development only): a 0600 file, dir/datakey.
//
// Losing the key makes the queued records unreadable; the queue detects this and says so.
func LoadOrCreateKey(dir string) ([]byte, error) {
	key, err := loadKey(dir)
	if err == nil {
		if len(key) != KeySize {
			return nil, fmt.Errorf("seal: load data key from %s: %d bytes, want %d", dir, len(key), KeySize)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("seal: load data key from %s: %w", dir, err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("seal: generate data key: %w", err)
	}
	if err := storeKey(dir, key); err != nil {
		return nil, fmt.Errorf("seal: store data key in %s: %w", dir, err)
	}
	return key, nil
}
