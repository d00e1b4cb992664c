//go:build !windows

package seal

func protectHandoff(secret []byte) ([]byte, error) { return append([]byte(nil), secret...), nil }

func unprotectHandoff(blob []byte) ([]byte, error) { return append([]byte(nil), blob...), nil }
