package seal

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// See key_dpapi.go for how the key is protected on Windows.

func loadKey(dir string) ([]byte, error) { return dpapiKeys{dir: dir, api: systemDPAPI{}}.load() }

func storeKey(dir string, key []byte) error {
	return dpapiKeys{dir: dir, api: systemDPAPI{}}.store(key)
}

// systemDPAPI is Windows' DPAPI (CryptProtectData, CryptUnprotectData).
type systemDPAPI struct{}

func blob(b []byte) *windows.DataBlob {
	if len(b) == 0 {
		return &windows.DataBlob{}
	}
	return &windows.DataBlob{Size: uint32(len(b)), Data: &b[0]}
}

func take(out *windows.DataBlob) []byte {
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	b := make([]byte, out.Size)
	copy(b, unsafe.Slice(out.Data, out.Size))
	return b
}

// protectUser protects data in user scope: no CRYPTPROTECT_LOCAL_MACHINE.
func (systemDPAPI) protectUser(data, entropy []byte) ([]byte, error) {
	var out windows.DataBlob
	if err := windows.CryptProtectData(blob(data), nil, blob(entropy), 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
		return nil, fmt.Errorf("CryptProtectData: %w", err)
	}
	return take(&out), nil
}

func (systemDPAPI) unprotect(b, entropy []byte) ([]byte, error) {
	var out windows.DataBlob
	if err := windows.CryptUnprotectData(blob(b), nil, blob(entropy), 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
		return nil, fmt.Errorf("CryptUnprotectData: %w", err)
	}
	return take(&out), nil
}

// protectMachine protects data in machine scope: hand-offs (handoff.go), and the data key as
// earlier versions did (tests make legacy keys with it).
func (systemDPAPI) protectMachine(data, entropy []byte) ([]byte, error) {
	var out windows.DataBlob
	flags := uint32(windows.CRYPTPROTECT_LOCAL_MACHINE | windows.CRYPTPROTECT_UI_FORBIDDEN)
	if err := windows.CryptProtectData(blob(data), nil, blob(entropy), 0, nil, flags, &out); err != nil {
		return nil, fmt.Errorf("CryptProtectData: %w", err)
	}
	return take(&out), nil
}

// handoffEntropy is DPAPI's secondary secret for hand-offs (handoff.go).
var handoffEntropy = []byte("WritebackAgent hand-off v1")

func protectHandoff(secret []byte) ([]byte, error) {
	return systemDPAPI{}.protectMachine(secret, handoffEntropy)
}

func unprotectHandoff(blob []byte) ([]byte, error) {
	return systemDPAPI{}.unprotect(blob, handoffEntropy)
}
