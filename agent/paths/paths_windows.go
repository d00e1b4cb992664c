package paths

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// dataSDDL gives SYSTEM and Administrators full control of the folder and everything in
// it, and nobody else anything; P: inherited permissions are dropped.
const dataSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

func dataDir() (string, error) {
	base, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "WritebackAgent"), nil
}

func secure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sd, err := windows.SecurityDescriptorFromString(dataSDDL)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}
