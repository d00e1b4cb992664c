//go:build !windows

package main

// setRecovery does nothing outside Windows: launchd restarts the daemon (KeepAlive), and
// Linux runs the service only for development.
func setRecovery(string) error { return nil }

// stopServiceForRemoval does nothing outside Windows (remove-data is the MSI's).
func stopServiceForRemoval() error { return nil }
