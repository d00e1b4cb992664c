package paths

func dataDir() (string, error) { return "/Library/Application Support/WritebackAgent", nil }
