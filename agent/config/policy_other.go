//go:build !windows

package config

// ReadPolicy returns no policy: Group Policy exists on Windows only.
func ReadPolicy() (Policy, error) { return nil, nil }
