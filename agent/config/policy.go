package config

import (
	"fmt"
	"math"
)

// PolicyKey is the registry key, under HKEY_LOCAL_MACHINE, where Group Policy (the ADMX
// template installer/windows/policy/WritebackAgent.admx) writes the settings an
// administrator enforces. A value there overrides the same setting in install.toml and
// config.toml. Serialised: never change it.
const PolicyKey = `SOFTWARE\Policies\Writeback Agent`

// Policy value names under PolicyKey. Serialised (the ADMX template writes them): never
// change them.
const (
	PolicyLogLevel      = "LogLevel"      // REG_SZ: log.level
	PolicyPollSeconds   = "PollSeconds"   // REG_DWORD: source.poll_seconds
	PolicyRetentionDays = "RetentionDays" // REG_DWORD: queue.retention_days
)

// PolicyValue is one value read from PolicyKey: a string (REG_SZ, REG_EXPAND_SZ) or a
// number (REG_DWORD, REG_QWORD).
type PolicyValue struct {
	String   string
	Number   uint64
	IsNumber bool
}

// Policy is the values found under PolicyKey, by value name. Names the service does not
// read are ignored (a newer template may set them).
type Policy map[string]PolicyValue

// PolicySetting is one setting Group Policy can enforce.
type PolicySetting struct {
	Value    string // the value name under PolicyKey
	Setting  string // the setting it overrides
	Number   bool   // a REG_DWORD (else a REG_SZ)
	Min, Max int    // a number's range (validate's)
}

// PolicySettings are the settings Group Policy can enforce: only settings that are safe to
// set the same on every PC of an organisation (no addresses, identities or secrets).
var PolicySettings = []PolicySetting{
	{Value: PolicyLogLevel, Setting: SettingLogLevel},
	{Value: PolicyPollSeconds, Setting: SettingSourcePoll, Number: true, Min: 1, Max: 3600},
	{Value: PolicyRetentionDays, Setting: SettingRetentionDays, Number: true, Min: 1, Max: 365},
}

// PolicySource is how problems name a policy value: where it is and who sets it.
func PolicySource(value string) string {
	return fmt.Sprintf(`Group Policy: HKLM\%s, value %s`, PolicyKey, value)
}

// applyPolicy overrides cfg's settings with the policy values present, and records the
// policy as the source of each (so that a problem names the policy, not a file).
func (l *loader) applyPolicy(p Policy, cfg *Config) {
	for _, s := range PolicySettings {
		v, ok := p[s.Value]
		if !ok {
			continue
		}
		src := PolicySource(s.Value)
		if v.IsNumber != s.Number {
			want, got := "text (REG_SZ)", "a number"
			if s.Number {
				want, got = "a number (REG_DWORD)", "text"
			}
			l.problems = append(l.problems, Problem{Setting: s.Setting, File: src,
				Message: fmt.Sprintf("the policy value is %s, not %s", got, want),
				Fix:     "set the policy with the Writeback Agent ADMX template (Group Policy editor), which writes the right type, or delete the value"})
			continue
		}
		n := int(min(v.Number, math.MaxInt32))
		switch s.Value {
		case PolicyLogLevel:
			cfg.Log.Level = v.String
		case PolicyPollSeconds:
			cfg.Source.PollSeconds = n
		case PolicyRetentionDays:
			cfg.Queue.RetentionDays = n
		default:
			panic("config: PolicySettings lists " + s.Value + " without applying it")
		}
		l.source[s.Setting] = src
	}
}
