//go:build !windows

package dropfolder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openFile opens the file at path for reading without following a symbolic link (O_NOFOLLOW)
// and checks, on what was opened, that it is a regular file with no other name (hard link).
func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w: a symbolic link", errLink)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("%w: not a regular file", errLink)
	case ok && st.Nlink > 1:
		f.Close()
		return nil, fmt.Errorf("%w: the file has %d names (hard links)", errLink, st.Nlink)
	}
	return f, nil
}

// isLink reports whether path is a symbolic link (not followed).
func isLink(path string) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return false, err
	}
	return fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0, nil
}
