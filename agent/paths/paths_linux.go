package paths

func dataDir() (string, error) { return "/var/lib/writeback-agent", nil }
