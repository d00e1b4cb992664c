package dropfolder

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// openFile opens the file at path for reading without following a reparse point
// (FILE_FLAG_OPEN_REPARSE_POINT) and checks, on the handle, that it is a file, not a reparse
// point, with no other name (hard link).
func openFile(path string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		windows.CloseHandle(h)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	switch {
	case info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0:
		windows.CloseHandle(h)
		return nil, fmt.Errorf("%w: a reparse point (symbolic link or junction)", errLink)
	case info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0:
		windows.CloseHandle(h)
		return nil, fmt.Errorf("%w: a folder", errLink)
	case info.NumberOfLinks > 1:
		windows.CloseHandle(h)
		return nil, fmt.Errorf("%w: the file has %d names (hard links)", errLink, info.NumberOfLinks)
	}
	return os.NewFile(uintptr(h), path), nil
}

// isLink reports whether path is a reparse point (not followed).
func isLink(path string) (bool, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return false, err
	}
	attrs, err := windows.GetFileAttributes(p)
	if err != nil {
		return false, &os.PathError{Op: "attributes", Path: path, Err: err}
	}
	return attrs&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0, nil
}
