package watch

import (
	"errors"
	"regexp"
	"strings"
)

// Clinical systems, as the watcher's texts and the user id check know them.
const (
	SystemEMIS   = "emis"
	SystemVision = "vision"
)

// Errors of CheckUserID. Their texts are shown to staff; they never quote the id.
var (
	ErrUserIDMissing   = errors.New("the Medical Record System User ID is missing")
	ErrUserIDMalformed = errors.New("the Medical Record System User ID is not in the form the clinical system needs")
)

var (
	emisUserID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)
	// A Vision staff name: a forename and a surname (each at least two letters; hyphens and
	// apostrophes allowed), separated by one space.
	visionName = regexp.MustCompile(`^\p{L}[\p{L}'’-]*\p{L} \p{L}[\p{L}'’-]*\p{L}$`)
)

// CheckUserID checks the form of a clinician's Medical Record System User ID (the id the
// online consultation platform puts in a writeback's author) for the clinical system: for
// EMIS the user's EMIS login (a username or user-in-role id: one word); for Vision the
// forename and surname as in the Vision staff record, separated by one space — not a
// username, a login id or initials. It cannot tell whether the user exists: the probe does.
func CheckUserID(system, id string) error {
	if strings.TrimSpace(id) == "" {
		return ErrUserIDMissing
	}
	switch system {
	case SystemVision:
		if !visionName.MatchString(id) {
			return ErrUserIDMalformed
		}
	default:
		if !emisUserID.MatchString(id) {
			return ErrUserIDMalformed
		}
	}
	return nil
}
