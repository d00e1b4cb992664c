package main

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// mutexName is the tray's single-instance mutex. "Local\" makes it per session, so on a
// terminal server each signed-in user has their own tray.
const mutexName = `Local\WritebackAgentTray`

// claimSession returns false if another tray already runs in this session. The claim lasts
// as long as the process.
func claimSession() (bool, error) {
	name, err := windows.UTF16PtrFromString(mutexName)
	if err != nil {
		return true, err
	}
	_, err = windows.CreateMutex(nil, false, name)
	if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("single instance: %w", err)
	}
	return true, nil // the handle is left open until the process ends
}
