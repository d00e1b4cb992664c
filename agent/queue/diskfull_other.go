//go:build !windows

package queue

import (
	"errors"
	"syscall"
)

// isDiskFull reports whether err says the disk is full.
func isDiskFull(err error) bool { return errors.Is(err, syscall.ENOSPC) }
