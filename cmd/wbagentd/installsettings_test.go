package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/writeback-agent/wbagent/agent/config"
	"github.com/writeback-agent/wbagent/agent/paths"
	"github.com/writeback-agent/wbagent/agent/source"
)

// installProps are valid values for every property an MSI install takes.
func installProps() map[string]string {
	return map[string]string{
		"PRACTICE_ODS":       "A12345",
		"CLINICAL_API_URL":   "https://api.example.com",
		"CLINICAL_ISSUER":    "https://login.example.com",
		"CLINICAL_CLIENT_ID": "wbagent",
		"APPLICATION_ID":     "6d1f3c2a-8b4e-4f7a-9c5d-2e8b7a1f4c93",
		"PLATFORM_URL":       "https://platform.example.com",
		"ENROLMENT_CODE":     "canary-enrolment-code-7q3z",
	}
}

func TestInstallSettingsBecomeTheConfiguration(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, paths.ConfigFile)
	applied, err := applyInstallSettings(dir, cfgFile, installProps())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 7 {
		t.Errorf("applied %v, want all 7 properties given", applied)
	}
	cfg, err := config.Load(filepath.Join(dir, paths.InstallFile), cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Practice.ODS != "A12345" || cfg.Clinical.APIURL != "https://api.example.com" ||
		cfg.Source.URL != "https://platform.example.com" || cfg.Clinical.ClientID != "wbagent" {
		t.Errorf("configuration %+v", cfg)
	}
	b, err := os.ReadFile(filepath.Join(dir, paths.InstallFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "canary") {
		t.Error("install.toml holds the enrolment code")
	}
	if _, err := os.Stat(filepath.Join(dir, source.CredentialFile)); err != nil {
		t.Error("the enrolment code was not sealed:", err)
	}
	if got, err := loadSealed(t, dir); err != nil || got != "canary-enrolment-code-7q3z" {
		t.Errorf("sealed enrolment code: %v (matches: %v)", err, got == "canary-enrolment-code-7q3z")
	}

	// An upgrade or repair given no properties (the MSI writes them empty) keeps them; one
	// given a property changes only that.
	if _, err := applyInstallSettings(dir, cfgFile, map[string]string{"PRACTICE_ODS": "", "PLATFORM_URL": ""}); err != nil {
		t.Fatal(err)
	}
	if _, err := applyInstallSettings(dir, cfgFile, map[string]string{"PRACTICE_ODS": "B67890"}); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(filepath.Join(dir, paths.InstallFile), cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Practice.ODS != "B67890" || cfg.Source.URL != "https://platform.example.com" {
		t.Errorf("after a second install: ods %q, source %q", cfg.Practice.ODS, cfg.Source.URL)
	}
}

// An invalid property changes nothing and is named, with the setting and the fix.
func TestAnInvalidInstallPropertyIsNamed(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, paths.ConfigFile)
	if _, err := applyInstallSettings(dir, cfgFile, installProps()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, paths.InstallFile))
	props := installProps()
	props["PRACTICE_ODS"] = "a 12345"
	props["ENROLMENT_CODE"] = "another-code"
	_, err := applyInstallSettings(dir, cfgFile, props)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a configuration error", err)
	}
	var msgs []string
	for _, p := range ce.Problems {
		msgs = append(msgs, describeProblem(p))
	}
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "MSI property PRACTICE_ODS (practice.ods: ") ||
		!strings.Contains(msgs[0], "Fix: ") || strings.Contains(msgs[0], ".new") {
		t.Errorf("problems: %q", msgs)
	}
	after, _ := os.ReadFile(filepath.Join(dir, paths.InstallFile))
	if string(after) != string(before) {
		t.Error("install.toml changed")
	}
	if _, err := os.Stat(filepath.Join(dir, paths.InstallFile+".new")); err == nil {
		t.Error("the candidate file was left behind")
	}
	if got, _ := loadSealed(t, dir); got != "canary-enrolment-code-7q3z" {
		t.Error("the enrolment code was replaced although the install values were refused")
	}
}

func TestMergeInstallTOMLKeepsOtherSettings(t *testing.T) {
	old := []byte("[practice]\nods = \"A12345\"\n[log]\nlevel = \"debug\"\n")
	b, err := mergeInstallTOML(old, map[string]string{config.SettingSourceURL: "https://p.example.com", config.SettingPracticeODS: " "})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ods = 'A12345'`, `level = 'debug'`, `url = 'https://p.example.com'`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestEveryInstallPropertyHasASetting(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range installProperties {
		if seen[p.Property] || seen[p.Value] {
			t.Errorf("%s is listed twice", p.Property)
		}
		seen[p.Property], seen[p.Value] = true, true
		if p.Setting == "" && p.Property != enrolmentProperty {
			t.Errorf("%s sets nothing", p.Property)
		}
	}
}

func TestRemoveDataRemovesTheFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, f := range []string{"queue.db", "blobs/1.att", "logs/wbagentd.log"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out strings.Builder
	if code := run([]string{"remove-data", "--data", dir}, &out, &out); code != exitOK {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data folder is still there: %v", err)
	}
	if code := run([]string{"remove-data", "--data", dir}, &out, &out); code != exitOK {
		t.Errorf("a second remove-data: exit %d: %s", code, out.String())
	}
}

// The MSI writes every property where the service reads it, hides the secret ones from its
// log, and lets all of them through to a managed install (scripts/msi.sh patches
// SecureCustomProperties).
func TestTheMSIWritesEveryPropertyWhereTheServiceReadsIt(t *testing.T) {
	wxs, err := os.ReadFile(filepath.Join("..", "..", "installer", "windows", "WritebackAgent.wxs"))
	if err != nil {
		t.Fatal(err)
	}
	msiSh, err := os.ReadFile(filepath.Join("..", "..", "scripts", "msi.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\npublic=\(([^)]*)\)`).FindSubmatch(msiSh)
	if m == nil {
		t.Fatal("scripts/msi.sh has no public=(...) list")
	}
	public := strings.Fields(string(m[1]))
	var hidden []string
	for _, p := range installProperties {
		key := installKey
		if p.Secret {
			key = secretKey
			hidden = append(hidden, p.Property)
		}
		want := fmt.Sprintf(`Key="%s" Name="%s" Type="string" Value="[%s]"`, key, p.Value, p.Property)
		if !strings.Contains(string(wxs), want) {
			t.Errorf("the .wxs lacks %s", want)
		}
		if !slices.Contains(public, p.Property) {
			t.Errorf("scripts/msi.sh does not add %s to SecureCustomProperties", p.Property)
		}
	}
	h := regexp.MustCompile(`<Property Id="MsiHiddenProperties" Value="([^"]*)"/>`).FindSubmatch(wxs)
	if h == nil {
		t.Fatal("the .wxs has no MsiHiddenProperties")
	}
	got := strings.Split(string(h[1]), ";")
	slices.Sort(got)
	slices.Sort(hidden)
	if !slices.Equal(got, hidden) {
		t.Errorf("MsiHiddenProperties %v, want the secret properties %v", got, hidden)
	}
	if !strings.Contains(string(wxs), `Arguments="service"`) || !strings.Contains(string(wxs), `Name="`+serviceName+`"`) {
		t.Error("the .wxs does not register the service as wbagentd expects")
	}
}

// The key holding the secret install values is locked to SYSTEM and Administrators by
// scripts/msi.sh (MsiLockPermissionsEx, for every Registry row writing secretKey): the lock
// must name the key this service reads, and grant no one else. `make msi` checks the rows in
// the built package and `make test-windows` checks them again.
func TestTheMSILocksTheSecretsKeyTheServiceReads(t *testing.T) {
	msiSh, err := os.ReadFile(filepath.Join("..", "..", "scripts", "msi.sh"))
	if err != nil {
		t.Fatal(err)
	}
	awkKey := strings.ReplaceAll(secretKey, `\`, `\\`)
	if !strings.Contains(string(msiSh), `$3 == "`+awkKey+`"`) {
		t.Errorf("scripts/msi.sh does not lock the Registry rows of %s", secretKey)
	}
	m := regexp.MustCompile(`\nsecrets_sddl='([^']*)'`).FindSubmatch(msiSh)
	if m == nil {
		t.Fatal("scripts/msi.sh has no secrets_sddl")
	}
	// Protected (no inherited ACEs), and only LocalSystem (SY) and Administrators (BA).
	if want := `D:P(A;CI;KA;;;SY)(A;CI;KA;;;BA)`; string(m[1]) != want {
		t.Errorf("the InstallSecrets key's SDDL is %s, want %s", m[1], want)
	}
}
