package config

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestWatchProbeInterval(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(filepath.Join(dir, "install.toml"), write(t, dir, "config.toml", valid))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Watch.ProbeInterval() != time.Minute {
		t.Errorf("default probe interval %v, want 1 minute", cfg.Watch.ProbeInterval())
	}
	cfg, err = Load(filepath.Join(dir, "install.toml"), write(t, dir, "config.toml", valid+"\n[watch]\nprobe_seconds = 15\n"))
	if err != nil || cfg.Watch.ProbeInterval() != 15*time.Second {
		t.Errorf("probe_seconds = 15: %v, %v", cfg.Watch.ProbeInterval(), err)
	}
	for _, bad := range []string{"14", "3601", "0"} {
		_, err := Load(filepath.Join(dir, "install.toml"), write(t, dir, "config.toml", valid+"\n[watch]\nprobe_seconds = "+bad+"\n"))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Setting != SettingWatchProbe || ce.Problems[0].Fix == "" {
			t.Errorf("probe_seconds = %s: %v", bad, err)
		}
	}
}
