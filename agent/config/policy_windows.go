package config

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

// ReadPolicy returns the values Group Policy set under HKLM\PolicyKey (the 64-bit view);
// none if the key does not exist.
func ReadPolicy() (Policy, error) {
	return readPolicy(registry.LOCAL_MACHINE, PolicyKey)
}

// readPolicy reads the values of PolicySettings present under root\path.
func readPolicy(root registry.Key, path string) (Policy, error) {
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: read Group Policy HKLM\\%s: %w", path, err)
	}
	defer k.Close()
	p := Policy{}
	for _, s := range PolicySettings {
		if str, _, err := k.GetStringValue(s.Value); err == nil {
			p[s.Value] = PolicyValue{String: str}
			continue
		} else if errors.Is(err, registry.ErrNotExist) {
			continue
		} else if !errors.Is(err, registry.ErrUnexpectedType) {
			return nil, fmt.Errorf("config: read Group Policy HKLM\\%s, value %s: %w", path, s.Value, err)
		}
		n, _, err := k.GetIntegerValue(s.Value)
		if err != nil {
			return nil, fmt.Errorf("config: read Group Policy HKLM\\%s, value %s (neither text nor a number): %w", path, s.Value, err)
		}
		p[s.Value] = PolicyValue{Number: n, IsNumber: true}
	}
	return p, nil
}
