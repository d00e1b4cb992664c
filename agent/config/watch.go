package config

import (
	"fmt"
	"time"
)

// SettingWatchProbe is the [watch] setting of how often a healthy clinician is probed.
// Serialised: never change it.
const SettingWatchProbe = "watch.probe_seconds"

// Bounds and default of watch.probe_seconds.
const (
	DefaultWatchProbeSeconds = 60
	MinWatchProbeSeconds     = 15
	MaxWatchProbeSeconds     = 3600
)

// Watch configures the integration watcher.
type Watch struct {
	// ProbeSeconds is how often each linked clinician whose integration works is probed
	// (sign-in, application, login access), 15 to 3600 (default 60); each wait is shortened
	// by up to a fifth at random, so that PCs do not probe in step. A problem found is shown
	// within seconds of the probe that found it.
	ProbeSeconds int `toml:"probe_seconds"`
}

// ProbeInterval returns watch.probe_seconds as a duration (validated by Load).
func (w Watch) ProbeInterval() time.Duration {
	return time.Duration(w.ProbeSeconds) * time.Second
}

func (l *loader) validateWatch(w Watch) {
	if w.ProbeSeconds < MinWatchProbeSeconds || w.ProbeSeconds > MaxWatchProbeSeconds {
		l.problem(SettingWatchProbe, fmt.Sprintf("%d is not between %d and %d", w.ProbeSeconds, MinWatchProbeSeconds, MaxWatchProbeSeconds),
			fmt.Sprintf("set it to how many seconds to wait between probes of each clinician's integration, e.g. probe_seconds = %d, or remove it for the default", DefaultWatchProbeSeconds))
	}
}
