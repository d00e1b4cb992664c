package config

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestGroupPolicyOverridesTheFiles(t *testing.T) {
	dir := t.TempDir()
	install := write(t, dir, "install.toml", valid)
	cfgFile := write(t, dir, "config.toml", "[log]\nlevel = \"error\"\n[source]\npoll_seconds = 2\n")
	cfg, err := LoadWithPolicy(Policy{
		PolicyLogLevel:      {String: "debug"},
		PolicyPollSeconds:   {Number: 120, IsNumber: true},
		PolicyRetentionDays: {Number: 90, IsNumber: true},
		"SomethingNewer":    {String: "ignored"},
	}, install, cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "debug" || cfg.Source.PollSeconds != 120 || cfg.Queue.RetentionDays != 90 {
		t.Errorf("log %+v, source %+v, queue %+v: the policy did not override the files", cfg.Log, cfg.Source, cfg.Queue)
	}
	// Settings no policy sets still come from the files.
	if cfg.Practice.ODS != "A12345" || cfg.Clinical.ApplicationID != appID {
		t.Errorf("practice %+v, clinical %+v", cfg.Practice, cfg.Clinical)
	}
}

func TestNoPolicyLeavesTheFilesInCharge(t *testing.T) {
	dir := t.TempDir()
	install := write(t, dir, "install.toml", valid)
	cfgFile := write(t, dir, "config.toml", "[source]\npoll_seconds = 2\n")
	for _, p := range []Policy{nil, {}} {
		cfg, err := LoadWithPolicy(p, install, cfgFile)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Source.PollSeconds != 2 || cfg.Log.Level != "info" || cfg.Queue.RetentionDays != 30 {
			t.Errorf("policy %v: source %+v, log %+v, queue %+v", p, cfg.Source, cfg.Log, cfg.Queue)
		}
	}
}

func TestABadPolicyValueNamesThePolicy(t *testing.T) {
	dir := t.TempDir()
	install := write(t, dir, "install.toml", valid)
	_, err := LoadWithPolicy(Policy{
		PolicyLogLevel:      {String: "loud"},
		PolicyPollSeconds:   {String: "30"},                    // text where a number belongs
		PolicyRetentionDays: {Number: 1 << 40, IsNumber: true}, // out of range (and beyond int32)
	}, install, filepath.Join(dir, "config.toml"))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	want := map[string]string{
		SettingLogLevel:      PolicySource(PolicyLogLevel),
		SettingSourcePoll:    PolicySource(PolicyPollSeconds),
		SettingRetentionDays: PolicySource(PolicyRetentionDays),
	}
	for _, p := range ce.Problems {
		if src, ok := want[p.Setting]; ok {
			if p.File != src || p.Fix == "" {
				t.Errorf("%s: problem %q, want it in %q with a fix", p.Setting, p, src)
			}
			if !strings.Contains(p.String(), `HKLM\SOFTWARE\Policies\Writeback Agent, value `) {
				t.Errorf("%q does not name the policy value", p)
			}
			delete(want, p.Setting)
		}
	}
	if len(want) > 0 {
		t.Errorf("no problem for %v in %v", want, err)
	}
}

func TestPolicyRangesAreTheSettingsRanges(t *testing.T) {
	dir := t.TempDir()
	install := write(t, dir, "install.toml", valid)
	for _, s := range PolicySettings {
		if !s.Number {
			continue
		}
		for n, ok := range map[int]bool{s.Min: true, s.Max: true, s.Min - 1: false, s.Max + 1: false} {
			_, err := LoadWithPolicy(Policy{s.Value: {Number: uint64(max(n, 0)), IsNumber: true}}, install)
			if (err == nil) != ok {
				t.Errorf("%s = %d: err = %v, want valid %v", s.Value, n, err, ok)
			}
		}
	}
}

// admx is the part of an ADMX file the service depends on.
type admx struct {
	Policies []struct {
		Name         string `xml:"name,attr"`
		Class        string `xml:"class,attr"`
		Key          string `xml:"key,attr"`
		DisplayName  string `xml:"displayName,attr"`
		ExplainText  string `xml:"explainText,attr"`
		Presentation string `xml:"presentation,attr"`
		Enums        []struct {
			ValueName string   `xml:"valueName,attr"`
			Values    []string `xml:"item>value>string"`
		} `xml:"elements>enum"`
		Decimals []struct {
			ValueName string `xml:"valueName,attr"`
			Min       int    `xml:"minValue,attr"`
			Max       int    `xml:"maxValue,attr"`
		} `xml:"elements>decimal"`
	} `xml:"policies>policy"`
}

type adml struct {
	Strings []struct {
		ID string `xml:"id,attr"`
	} `xml:"resources>stringTable>string"`
	Presentations []struct {
		ID string `xml:"id,attr"`
	} `xml:"resources>presentationTable>presentation"`
}

// The ADMX template IT imports writes exactly the values the service reads, with their
// types and ranges, under the key it reads; every text it refers to is in the ADML.
func TestTheADMXTemplateWritesWhatTheServiceReads(t *testing.T) {
	policyDir := filepath.Join("..", "..", "installer", "windows", "policy")
	admxData, err := os.ReadFile(filepath.Join(policyDir, "WritebackAgent.admx"))
	if err != nil {
		t.Fatal(err)
	}
	admlData, err := os.ReadFile(filepath.Join(policyDir, "en-US", "WritebackAgent.adml"))
	if err != nil {
		t.Fatal(err)
	}
	var x admx
	if err := xml.Unmarshal(admxData, &x); err != nil {
		t.Fatalf("WritebackAgent.admx: %v", err)
	}
	var l adml
	if err := xml.Unmarshal(admlData, &l); err != nil {
		t.Fatalf("WritebackAgent.adml: %v", err)
	}

	written := map[string]PolicySetting{}
	for _, p := range x.Policies {
		if p.Class != "Machine" || p.Key != PolicyKey {
			t.Errorf("policy %s: class %q, key %q; want Machine, %s", p.Name, p.Class, p.Key, PolicyKey)
		}
		for _, e := range p.Enums {
			written[e.ValueName] = PolicySetting{Value: e.ValueName}
			for _, v := range e.Values {
				_, err := LoadWithPolicy(Policy{e.ValueName: {String: v}}, write(t, t.TempDir(), "config.toml", valid))
				if err != nil {
					t.Errorf("policy %s: the choice %q is refused by the service: %v", p.Name, v, err)
				}
			}
		}
		for _, d := range p.Decimals {
			written[d.ValueName] = PolicySetting{Value: d.ValueName, Number: true, Min: d.Min, Max: d.Max}
		}
	}
	for _, s := range PolicySettings {
		w, ok := written[s.Value]
		if !ok {
			t.Errorf("the ADMX template has no policy writing %s (%s)", s.Value, s.Setting)
			continue
		}
		if w.Number != s.Number || (s.Number && (w.Min != s.Min || w.Max != s.Max)) {
			t.Errorf("the ADMX writes %s as %+v; the service reads %+v", s.Value, w, s)
		}
		delete(written, s.Value)
	}
	for v := range written {
		t.Errorf("the ADMX template writes %s, which the service does not read", v)
	}

	var strs, pres []string
	for _, s := range l.Strings {
		strs = append(strs, s.ID)
	}
	for _, p := range l.Presentations {
		pres = append(pres, p.ID)
	}
	for _, m := range regexp.MustCompile(`\$\((string|presentation)\.([^)]+)\)`).FindAllStringSubmatch(string(admxData), -1) {
		ids := strs
		if m[1] == "presentation" {
			ids = pres
		}
		if !slices.Contains(ids, m[2]) {
			t.Errorf("the ADML lacks %s %q", m[1], m[2])
		}
	}
}
