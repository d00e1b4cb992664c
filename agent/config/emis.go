package config

import (
	"fmt"

	"github.com/writeback-agent/wbagent/agent/clinical/emisx"
)

// Setting names of the [emis] section. Serialised: never change them.
const (
	SettingEMISSNOMEDScheme   = "emis.snomed_scheme"
	SettingEMISGUIDKept       = "emis.consultation_guid_kept"
	SettingEMISLegacyOutcomes = "emis.legacy_outcomes"
)

// EMIS holds what the agent assumes about EMIS-X that the Partner API's published document
// does not promise. Each default is today's assumption; docs/deploying.md ("Confirm with EMIS
// at onboarding") says what to ask and when to change it.
type EMIS struct {
	// SNOMEDScheme is the code scheme number (StringCodeType.scheme, 0 to 8) that marks a
	// code as SNOMED CT. Default 8.
	SNOMEDScheme int32 `toml:"snomed_scheme"`
	// ConsultationGUIDKept says EMIS keeps the GUID the agent files a consultation under.
	// Default true. When false, a filing is found again by its content only.
	ConsultationGUIDKept bool `toml:"consultation_guid_kept"`
	// LegacyOutcomes are the legacy EMIS Open outcome numbers of error answers, by meaning;
	// 0 recognises nothing. Defaults: emisx.DefaultLegacyOutcomes.
	LegacyOutcomes emisx.LegacyOutcomes `toml:"legacy_outcomes"`
}

// DefaultEMIS returns today's assumptions.
func DefaultEMIS() EMIS {
	return EMIS{SNOMEDScheme: emisx.DefaultSNOMEDScheme, ConsultationGUIDKept: true, LegacyOutcomes: emisx.DefaultLegacyOutcomes()}
}

// EMISConfig returns the [emis] assumptions as the adapter's settings, on top of base.
func (c Config) EMISConfig(base emisx.Config) emisx.Config {
	scheme := c.EMIS.SNOMEDScheme
	base.SNOMEDScheme = &scheme
	base.GUIDNotKept = !c.EMIS.ConsultationGUIDKept
	base.Outcomes = c.EMIS.LegacyOutcomes
	return base
}

func (l *loader) validateEMIS(e EMIS) {
	if e.SNOMEDScheme < 0 || e.SNOMEDScheme > emisx.MaxCodeScheme {
		l.problem(SettingEMISSNOMEDScheme, fmt.Sprintf("%d is not between 0 and %d", e.SNOMEDScheme, emisx.MaxCodeScheme),
			fmt.Sprintf("set it to the code scheme number EMIS confirmed for SNOMED CT, or remove it for %d", emisx.DefaultSNOMEDScheme))
	}
	if err := e.LegacyOutcomes.Validate(); err != nil {
		l.problem(SettingEMISLegacyOutcomes, err.Error(),
			"give each meaning the number EMIS confirmed, each number once, or remove the setting for the defaults")
	}
}
