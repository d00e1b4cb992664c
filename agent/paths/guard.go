package paths

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CodeUnsafeFolder is the condition the service reports (in its log and the Windows Event
// Log) when it refuses to start on an unsafe data or drop folder. Serialised: never change it.
const CodeUnsafeFolder = "data-folder-unsafe"

// UnsafeError says a folder cannot be trusted with patient data: it is owned by an account
// other than SYSTEM or Administrators (who could change its permissions at any time), or it
// is, or contains, a link (reparse point) that could send the service's reads and writes
// elsewhere. Fix says what IT must do.
type UnsafeError struct {
	Path    string
	Problem string
	Fix     string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("%s: %s (%s). Fix: %s", e.Path, e.Problem, CodeUnsafeFolder, e.Fix)
}

// Well-known SIDs of the accounts that may own a protected folder.
const (
	SIDSystem         = "S-1-5-18"     // LocalSystem, the service's account
	SIDAdministrators = "S-1-5-32-544" // the built-in Administrators group
)

// folderSecurity is what guard needs of the file system's security. Windows implements it
// (paths_windows.go); tests substitute a fake.
type folderSecurity interface {
	// inspect returns path's owner (a SID string) and whether it is a reparse point, without
	// following one. A missing path is fs.ErrNotExist.
	inspect(path string) (owner string, reparse bool, err error)
	// isReparse reports whether path is a reparse point (junction, symbolic link, mount
	// point), without following it.
	isReparse(path string) (bool, error)
	// self returns the SID of the account this process runs as.
	self() (string, error)
	// protect sets path's protected DACL: SYSTEM and Administrators full control, inherited by
	// everything in it, nothing inherited from above; with setOwner, it first makes SYSTEM the
	// owner (Administrators if the caller may not).
	protect(path string, setOwner bool) error
}

// guard creates dir if it is missing, refuses it (an *UnsafeError) if it is a reparse point,
// was there already and is owned by anyone but SYSTEM, Administrators or this process's own
// account, or contains a reparse point at any depth, and then protects it (owner and
// protected DACL).
func guard(dir string, sec folderSecurity) error {
	owner, reparse, err := sec.inspect(dir)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		created = true
		owner, reparse, err = sec.inspect(dir)
	}
	if err != nil {
		return err
	}
	if reparse {
		return &UnsafeError{Path: dir, Problem: "the folder is a link (junction or symbolic link) to another place",
			Fix: "stop the service, delete the link (rmdir " + dir + "; this does not delete what it points at), then start the service: it creates the folder afresh"}
	}
	// A folder this process just created is its own, whoever that is: protect makes SYSTEM
	// (or Administrators) its owner. One owned by this process's own account is as safe as
	// the process.
	self, err := sec.self()
	if err != nil {
		return err
	}
	if !created && owner != SIDSystem && owner != SIDAdministrators && owner != self {
		return &UnsafeError{Path: dir, Problem: "the folder is owned by " + owner + ", not by SYSTEM or Administrators: that account could change who may read it",
			Fix: "as an administrator, check the folder holds nothing unexpected, then make Administrators its owner (icacls \"" + dir + "\" /setowner *S-1-5-32-544 /T) and start the service, which then protects it"}
	}
	if err := findReparse(dir, sec); err != nil {
		return err
	}
	return sec.protect(dir, owner != SIDSystem && owner != SIDAdministrators)
}

// findReparse walks dir without following links and returns an *UnsafeError for the first
// reparse point in it.
func findReparse(dir string, sec folderSecurity) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		reparse, err := sec.isReparse(p)
		if err != nil {
			return err
		}
		if reparse {
			return &UnsafeError{Path: p, Problem: "a link (junction or symbolic link) inside the protected folder could send the service's files elsewhere",
				Fix: "stop the service, delete the link (rmdir or del on the link itself), then start the service"}
		}
		if e.IsDir() {
			if err := findReparse(p, sec); err != nil {
				return err
			}
		}
	}
	return nil
}
