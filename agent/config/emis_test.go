package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
)

// The assumptions about EMIS are configuration with today's values as defaults, and reach
// the adapter's settings.
func TestEMISAssumptionsDefaultToTodaysValues(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(write(t, dir, "config.toml", valid))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EMIS.SNOMEDScheme != 8 || !cfg.EMIS.ConsultationGUIDKept || cfg.EMIS.LegacyOutcomes != emisx.DefaultLegacyOutcomes() {
		t.Errorf("emis = %+v", cfg.EMIS)
	}
	ec := cfg.EMISConfig(emisx.Config{BaseURL: "http://x"})
	if ec.SNOMEDScheme == nil || *ec.SNOMEDScheme != 8 || ec.GUIDNotKept || ec.Outcomes != emisx.DefaultLegacyOutcomes() || ec.BaseURL != "http://x" {
		t.Errorf("adapter settings %+v", ec)
	}
}

func TestEMISAssumptionsAreConfigurable(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(write(t, dir, "config.toml", valid+`
[emis]
snomed_scheme = 7
consultation_guid_kept = false
[emis.legacy_outcomes]
application_not_activated = 9301
`))
	if err != nil {
		t.Fatal(err)
	}
	want := emisx.DefaultLegacyOutcomes()
	want.ApplicationNotActivated = 9301
	if cfg.EMIS.SNOMEDScheme != 7 || cfg.EMIS.ConsultationGUIDKept || cfg.EMIS.LegacyOutcomes != want {
		t.Errorf("emis = %+v", cfg.EMIS)
	}
	ec := cfg.EMISConfig(emisx.Config{})
	if *ec.SNOMEDScheme != 7 || !ec.GUIDNotKept || ec.Outcomes != want {
		t.Errorf("adapter settings %+v", ec)
	}
}

func TestEMISAssumptionsAreValidated(t *testing.T) {
	for _, tc := range []struct{ toml, setting string }{
		{"[emis]\nsnomed_scheme = 9\n", SettingEMISSNOMEDScheme},
		{"[emis]\nsnomed_scheme = -1\n", SettingEMISSNOMEDScheme},
		{"[emis.legacy_outcomes]\ntoken_invalid = 4001\n", SettingEMISLegacyOutcomes}, // 4001 is patient_not_found's
		{"[emis]\nguid_kept = true\n", "emis.guid_kept"},
	} {
		dir := t.TempDir()
		file := write(t, dir, "config.toml", valid+tc.toml)
		_, err := Load(file)
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Setting != tc.setting ||
			ce.Problems[0].File != filepath.Clean(file) || !strings.Contains(ce.Problems[0].Fix, " ") {
			t.Errorf("%q: %v", tc.toml, err)
		}
	}
}
