//go:build !windows && !darwin

package seal

import (
	"github.com/writeback-agent/wbagent/agent/durable"

	"fmt"
	"os"
	"path/filepath"
)

// keyFileName holds the raw data key on systems without an OS key store we rely on. This is
// for development and tests only: production runs on Windows (DPAPI) or macOS (Keychain).
const keyFileName = "datakey"

func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, keyFileName)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by other users (mode %v): run chmod 600 on it", path, fi.Mode().Perm())
	}
	return os.ReadFile(path)
}

func storeKey(dir string, key []byte) error {
	return durable.WriteFile(filepath.Join(dir, keyFileName), key, 0o600)
}
