package main

import (
	"fmt"
	"os/user"
	"strings"
)

// instancePath is this user's instance pipe, named after their SID.
func instancePath() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("instance pipe: %w", err)
	}
	return `\\.\pipe\WritebackAgentUI-` + strings.ReplaceAll(u.Uid, `\`, "-"), nil
}
