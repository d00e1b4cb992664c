package seal

import (
	"github.com/writeback-agent/wbagent/agent/durable"

	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// keyFileName holds the data key protected with DPAPI in machine scope: any process on this
// PC running as SYSTEM (the service) can unprotect it; a copy of the file taken to another
// PC cannot. The folder itself is ACL'd to SYSTEM and Administrators by the installer.
const keyFileName = "datakey.dpapi"

// entropy is DPAPI's optional secondary secret, tying the blob to this product.
var entropy = []byte("WritebackAgent data key v1")

func blob(b []byte) *windows.DataBlob {
	if len(b) == 0 {
		return &windows.DataBlob{}
	}
	return &windows.DataBlob{Size: uint32(len(b)), Data: &b[0]}
}

func loadKey(dir string) ([]byte, error) {
	protected, err := os.ReadFile(filepath.Join(dir, keyFileName))
	if err != nil {
		return nil, err
	}
	var out windows.DataBlob
	if err := windows.CryptUnprotectData(blob(protected), nil, blob(entropy), 0, nil, windows.CRYPTPROTECT_UI_FORBIDDEN, &out); err != nil {
		return nil, fmt.Errorf("DPAPI unprotect: %w", err)
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	key := make([]byte, out.Size)
	copy(key, unsafe.Slice(out.Data, out.Size))
	return key, nil
}

func storeKey(dir string, key []byte) error {
	var out windows.DataBlob
	flags := uint32(windows.CRYPTPROTECT_LOCAL_MACHINE | windows.CRYPTPROTECT_UI_FORBIDDEN)
	if err := windows.CryptProtectData(blob(key), nil, blob(entropy), 0, nil, flags, &out); err != nil {
		return fmt.Errorf("DPAPI protect: %w", err)
	}
	defer windows.LocalFree(windows.Handle(unsafe.Pointer(out.Data)))
	protected := make([]byte, out.Size)
	copy(protected, unsafe.Slice(out.Data, out.Size))
	return durable.WriteFile(filepath.Join(dir, keyFileName), protected, 0o600)
}
