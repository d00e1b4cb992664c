package seal

import (
	"encoding/base64"
	"errors"
	"io/fs"

	"github.com/zalando/go-keyring"
)

// The Keychain item holding the data key. dir is recorded in the account name so that two
// data folders (e.g. tests) have two keys.
const keychainService = "WritebackAgent"

func keychainAccount(dir string) string { return "datakey:" + dir }

func loadKey(dir string) ([]byte, error) {
	s, err := keyring.Get(keychainService, keychainAccount(dir))
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

func storeKey(dir string, key []byte) error {
	return keyring.Set(keychainService, keychainAccount(dir), base64.StdEncoding.EncodeToString(key))
}
