package paths

import (
	"errors"
	"fmt"
	"io/fs"
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

func secure(dir string) error { return guard(dir, windowsSecurity{}) }

// windowsSecurity is folderSecurity on NTFS, through a handle opened without following a
// reparse point, so what is checked is what is changed.
type windowsSecurity struct{}

// open opens path itself (FILE_FLAG_OPEN_REPARSE_POINT), a folder or a file.
func open(path string, access uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	h, err := windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OPEN_REPARSE_POINT, 0)
	if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND) {
		return 0, fmt.Errorf("open %s: %w", path, fs.ErrNotExist)
	}
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	return h, nil
}

func handleIsReparse(h windows.Handle) (bool, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return false, err
	}
	return info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0, nil
}

func (windowsSecurity) inspect(path string) (string, bool, error) {
	h, err := open(path, windows.READ_CONTROL|windows.FILE_READ_ATTRIBUTES)
	if err != nil {
		return "", false, err
	}
	defer windows.CloseHandle(h)
	reparse, err := handleIsReparse(h)
	if err != nil {
		return "", false, fmt.Errorf("attributes of %s: %w", path, err)
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return "", false, fmt.Errorf("owner of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return "", false, fmt.Errorf("owner of %s: %v", path, err)
	}
	return owner.String(), reparse, nil
}

func (windowsSecurity) self() (string, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("this process's account: %w", err)
	}
	return u.User.Sid.String(), nil
}

func (windowsSecurity) isReparse(path string) (bool, error) {
	attrs, err := windows.GetFileAttributes(windows.StringToUTF16Ptr(path))
	if err != nil {
		return false, fmt.Errorf("attributes of %s: %w", path, err)
	}
	return attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0, nil
}

func (windowsSecurity) protect(path string, owner bool) error {
	h, err := open(path, windows.READ_CONTROL|windows.WRITE_DAC|windows.WRITE_OWNER|windows.FILE_READ_ATTRIBUTES)
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	if reparse, err := handleIsReparse(h); err != nil || reparse {
		return &UnsafeError{Path: path, Problem: "the folder became a link while it was being protected", Fix: "delete the link, then start the service"}
	}
	if owner {
		if err := setOwner(h); err != nil {
			return fmt.Errorf("set the owner of %s: %w", path, err)
		}
	}
	sd, err := windows.SecurityDescriptorFromString(dataSDDL)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	// SetSecurityInfo on a handle does not rewrite the children's inherited entries as
	// SetNamedSecurityInfo does: apply it by name too, now that the folder is known not to be
	// a link (the handle is still open, so it cannot be replaced).
	if err := windows.SetSecurityInfo(h, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("set the permissions of %s: %w", path, err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		return fmt.Errorf("set the permissions of %s: %w", path, err)
	}
	return nil
}

// setOwner makes SYSTEM the owner, or Administrators when this process may not (an
// administrator running a command, not the service).
func setOwner(h windows.Handle) error {
	var lastErr error
	for _, s := range []string{SIDSystem, SIDAdministrators} {
		sid, err := windows.StringToSid(s)
		if err != nil {
			return err
		}
		if lastErr = windows.SetSecurityInfo(h, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION, sid, nil, nil, nil); lastErr == nil {
			return nil
		}
	}
	return lastErr
}
